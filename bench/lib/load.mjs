// The load generator: autocannon POSTing generated bodies to /publish.
import autocannon from "autocannon"
import { SECONDS } from "./args.mjs"

/**
 * Publishes body(0), body(1), ... for `seconds` (default --seconds) over `connections`;
 * `onAck(i, ms)` is told when body i was answered 2xx; `rate` caps requests per second overall.
 */
export const load = (url, connections, body, { onAck, seconds = SECONDS, rate } = {}) =>
  new Promise((resolve, reject) => {
    let i = 0
    autocannon({
      url: `${url}/publish`,
      connections,
      duration: seconds,
      ...(rate === undefined ? {} : { overallRate: rate }),
      requests: [{
        method: "POST",
        headers: { "content-type": "application/json" },
        setupRequest: (r, context) => {
          context.batch = i
          return { ...r, body: body(i++) }
        },
        onResponse: (status, _body, context) => {
          if (onAck !== undefined && status < 300) onAck(context.batch, Date.now())
        }
      }]
    }, (error, result) =>
      error ? reject(error) : resolve({
        rps: result.requests.average,
        p50: result.latency.p50,
        p99: result.latency.p99,
        errors: result.errors + result.non2xx,
        /** Requests answered 2xx: the server committed (and acknowledged) these. */
        acked: result["2xx"],
        sent: i
      }))
  })

/**
 * Starts a subject, loads it, stops it. `after(subject)` runs once the load is over, before the
 * stop (for the server's /stats); its answer comes back as `after`.
 */
export const measure = async (start, connections, body, after) => {
  const subject = await start()
  try {
    const result = await load(subject.url, connections, body)
    return after === undefined ? result : { ...result, after: await after(subject) }
  } finally {
    await subject.stop()
  }
}
