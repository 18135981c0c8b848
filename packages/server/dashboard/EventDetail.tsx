/** One stored event: its fields, and its payload indented with every token as stored. */
import type * as Api from "./api.js"
import { time } from "./format.js"
import { indent } from "./indent.js"

export const EventDetail = ({ event }: { event: Api.StoredEvent }) => (
  <article class="detail" id="event-detail" aria-label={`event ${event.topic}/${event.event_id}`}>
    <dl>
      <dt>topic</dt><dd>{event.topic}</dd>
      <dt>event_id</dt><dd>{event.event_id}</dd>
      <dt>seq</dt><dd>{event.seq}</dd>
      <dt>timestamp</dt><dd>{event.timestamp}</dd>
      <dt>source</dt><dd>{event.source}</dd>
      <dt>received_at</dt><dd>{time(event.received_at)}</dd>
    </dl>
    <h4>payload</h4>
    <pre class="payload" id="event-payload">{indent(event.payload)}</pre>
  </article>
)
