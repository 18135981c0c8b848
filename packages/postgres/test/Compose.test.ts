// The compose files' shape, checked without a Docker engine (npm test); scripts/docker-test.sh runs
// them on a real one.
import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { parse } from "yaml"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../../..")
// As Compose reads them with none of their variables set: `${NAME:-default}` is the default.
const load = (name: string) =>
  parse(Fs.readFileSync(Path.join(root, name), "utf8").replace(/\$\{\w+:-([^}]*)\}/g, "$1"), { merge: true }) as any

describe("compose files", () => {
  it("docker-compose.postgres.yml: postgres, two aggregator replicas on it, a publisher over both", () => {
    const { services, volumes } = load("docker-compose.postgres.yml")
    assert.hasAllKeys(services, ["postgres", "aggregator-1", "aggregator-2", "publisher"])
    assert.property(volumes, "postgres-data")
    for (const name of ["aggregator-1", "aggregator-2"]) {
      const s = services[name]
      assert.strictEqual(s.environment.EVENT_STORE, "postgres", name)
      assert.match(s.environment.DATABASE_URL, /^postgres:\/\/\w+:\w+@postgres:5432\/events$/, name)
      assert.strictEqual(s.depends_on.postgres.condition, "service_healthy", name)
      assert.strictEqual(s.image, "event-aggregator", name)
    }
    assert.notStrictEqual(services["aggregator-1"].ports[0], services["aggregator-2"].ports[0], "distinct host ports")
    const db = services.postgres.environment
    assert.include(services["aggregator-1"].environment.DATABASE_URL, `${db.POSTGRES_USER}:${db.POSTGRES_PASSWORD}@postgres:5432/${db.POSTGRES_DB}`)
    const command: Array<string> = services.publisher.command
    assert.includeMembers(command, ["publish", "--counts", "http://aggregator-1:8080", "http://aggregator-2:8080"])
    assert.deepStrictEqual(services.publisher.build, services["aggregator-1"].build, "the publisher builds the image, never pulls it")
    assert.strictEqual(services.publisher.image, "event-aggregator")
    assert.isTrue(Fs.existsSync(Path.join(root, command[1]!.replace("dist/event-aggregator.js", "src/bin.ts"))))
  })

  it("docker-compose.yml: the aggregator with its data volume and a publisher once it is healthy", () => {
    const { services, volumes } = load("docker-compose.yml")
    assert.hasAllKeys(services, ["aggregator", "publisher"])
    assert.property(volumes, "aggregator-data")
    assert.include(services.aggregator.volumes[0], ":/app/data")
    assert.strictEqual(services.publisher.depends_on.aggregator.condition, "service_healthy")
    assert.includeMembers(services.publisher.command, ["publish", "--counts", "5", "5000", "--duplicates-ratio", "0.2"])
    assert.deepStrictEqual(services.publisher.build, services.aggregator.build, "the publisher builds the image, never pulls it")
    assert.strictEqual(services.publisher.image, services.aggregator.image)
    assert.deepStrictEqual(services.aggregator.ports, ["8080:8080"])
  })
})
