/** Whether the HTTP runtime takes traffic: false while starting and once draining has begun. */
import * as Context from "effect/Context"

export interface State {
  ready: boolean
}

export class Lifecycle extends Context.Tag("@event-aggregator/server/internal/Lifecycle")<Lifecycle, State>() {}
