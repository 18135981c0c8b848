/**
 * Retention and the dedup window: how long a stored event is kept (`RETENTION`, counted from its
 * `received_at`) and how long its key is remembered (`DEDUP_WINDOW`, at least the retention), with
 * per-topic overrides. Between the two, a compact key record (original `seq`, content hash) keeps
 * late re-sends duplicates or conflicts; past the window the key is forgotten and accepted anew.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

/** `forever`, or a whole number with a unit: `90s`, `15m`, `12h`, `30d`, `2w`. */
const PATTERN = /^\s*(\d{1,12})\s*(ms|s|m|h|d|w)\s*$/i

const UNIT: Record<string, (n: number) => Duration.Duration> = {
  ms: Duration.millis,
  s: Duration.seconds,
  m: Duration.minutes,
  h: Duration.hours,
  d: Duration.days,
  w: Duration.weeks
}

/**
 * Parses a retention or window: `forever` (or `infinity`) is `Duration.infinity`; `90s`, `15m`,
 * `12h`, `30d`, `2w` (at least 1 s). `Option.none()` when the text is not one.
 *
 * @since 0.1.0
 */
export const parseDuration = (text: string): Option.Option<Duration.Duration> => {
  const t = text.trim().toLowerCase()
  if (t === "forever" || t === "infinity") return Option.some(Duration.infinity)
  return Option.filter(parseFinite(t), (d) => !Duration.lessThan(d, Duration.seconds(1)))
}

/** A whole number with a unit (`500ms` to `2w`), no lower bound. */
const parseFinite = (text: string): Option.Option<Duration.Duration> => {
  const m = PATTERN.exec(text)
  return m === null ? Option.none() : Option.some(UNIT[m[2]!.toLowerCase()]!(Number(m[1])))
}

/**
 * A finite duration in milliseconds, spelt as `parseDuration` spells them (`500ms` to `2w`, no lower
 * bound: the caller's check states its own); `undefined` when the text is not one.
 *
 * @since 0.1.0
 */
export const parseMillis = (text: string): number | undefined =>
  Option.getOrUndefined(Option.map(parseFinite(text), Duration.toMillis))

/** A duration as the settings spell it (`30d`, `forever`). */
export const format = (d: Duration.Duration): string => {
  if (!Duration.isFinite(d)) return "forever"
  const ms = Duration.toMillis(d)
  for (const [unit, size] of [["w", 604_800_000], ["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`
  }
  return `${ms}ms`
}

/**
 * The rule of one topic, in milliseconds (`null`: forever). Plain data: it crosses to the SQLite
 * writer thread.
 *
 * @since 0.1.0
 */
export interface Rule {
  readonly retentionMs: number | null
  readonly windowMs: number | null
}

/**
 * The rule of every topic: the default, and per-topic overrides.
 *
 * @since 0.1.0
 */
export interface Policy {
  readonly default: Rule
  readonly topics: ReadonlyArray<readonly [string, Rule]>
}

/** The settings retention reads (a part of `AggregatorConfig.Settings`). */
export interface Settings {
  /** `RETENTION`: `forever` or a duration such as `30d`. */
  readonly retention: string
  /** `DEDUP_WINDOW`: `forever` or a duration, at least the retention. */
  readonly dedupWindow: string
  /** `TOPIC_RETENTION`: per-topic retention. */
  readonly topicRetention: Readonly<Record<string, string>>
  /** `TOPIC_DEDUP_WINDOW`: per-topic window. */
  readonly topicDedupWindow: Readonly<Record<string, string>>
}

/** Keep everything, remember every key: the default. */
export const forever: Rule = { retentionMs: null, windowMs: null }

const millisOf = (d: Duration.Duration): number | null => (Duration.isFinite(d) ? Duration.toMillis(d) : null)

const longer = (a: number | null, b: number | null): boolean => a === null ? b !== null : b !== null && a > b

/**
 * The policy of settings, or one sentence naming the setting that is wrong: an unreadable
 * duration, or a window shorter than the retention it would remember keys for.
 *
 * @since 0.1.0
 */
export const policyOf = (settings: Settings): { readonly policy: Policy } | { readonly problem: readonly [string, string] } => {
  const read = (context: string, text: string): Duration.Duration | string =>
    Option.match(parseDuration(text), {
      onNone: () => `${context}must be "forever" or a duration such as 90s, 12h, 30d, 2w, got ${JSON.stringify(text)}`,
      onSome: (d) => d
    })
  const retention = read("", settings.retention)
  if (typeof retention === "string") return { problem: ["RETENTION", retention] }
  const window = read("", settings.dedupWindow)
  if (typeof window === "string") return { problem: ["DEDUP_WINDOW", window] }
  const base: Rule = { retentionMs: millisOf(retention), windowMs: millisOf(window) }
  if (longer(base.retentionMs, base.windowMs)) {
    return {
      problem: ["DEDUP_WINDOW", `must be at least RETENTION (${settings.retention}), got ${settings.dedupWindow}`]
    }
  }
  const topics = new Map<string, { retentionMs: number | null; windowMs: number | null }>()
  const overrides = [["TOPIC_RETENTION", settings.topicRetention, "retentionMs"], ["TOPIC_DEDUP_WINDOW", settings.topicDedupWindow, "windowMs"]] as const
  for (const [name, map, field] of overrides) {
    for (const [topic, text] of Object.entries(map)) {
      const d = read(`topic ${JSON.stringify(topic)}: `, text)
      if (typeof d === "string") return { problem: [name, d] }
      const rule = topics.get(topic) ?? { ...base }
      rule[field] = millisOf(d)
      topics.set(topic, rule)
    }
  }
  for (const [topic, rule] of topics) {
    if (longer(rule.retentionMs, rule.windowMs)) {
      return {
        problem: ["TOPIC_DEDUP_WINDOW", `the dedup window of topic ${JSON.stringify(topic)} (${showMs(rule.windowMs)}) must be at least its retention (${showMs(rule.retentionMs)})`]
      }
    }
  }
  return { policy: { default: base, topics: Array.from(topics) } }
}

const showMs = (ms: number | null): string => format(ms === null ? Duration.infinity : Duration.millis(ms))

/**
 * Parses `logs=1d,orders=30d` (the form of `TOPIC_RETENTION` and `TOPIC_DEDUP_WINDOW`): a topic
 * runs to the last `=` of its item. `undefined` when an item has no `=` or no topic.
 *
 * @since 0.1.0
 */
export const parseTopicMap = (text: string): Record<string, string> | undefined => {
  const out: Record<string, string> = {}
  for (const item of text.split(",")) {
    if (item.trim() === "") continue
    const at = item.lastIndexOf("=")
    if (at <= 0) return undefined
    out[item.slice(0, at).trim()] = item.slice(at + 1).trim()
  }
  return out
}

/** The rule of `topic` under `policy`. */
export const ruleOf = (policy: Policy, topic: string): Rule => {
  for (const [t, rule] of policy.topics) if (t === topic) return rule
  return policy.default
}

/** Whether anything is ever pruned or forgotten under `policy`. */
export const prunes = (policy: Policy): boolean =>
  policy.default.retentionMs !== null || policy.default.windowMs !== null ||
  policy.topics.some(([, r]) => r.retentionMs !== null || r.windowMs !== null)

/** The rule of a topic as `/stats` shows it. */
export const describe = (rule: Rule): { readonly retention: string; readonly dedup_window: string } => ({
  retention: showMs(rule.retentionMs),
  dedup_window: showMs(rule.windowMs)
})
