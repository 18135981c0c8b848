/**
 * Runs `load` now and every `millis` until unmounted; an error shows until the next success. A
 * request in flight at unmount finishes and is ignored (not aborted: an aborted request is a
 * failed request in the browser's log).
 */
import { useEffect, useRef, useState } from "preact/hooks"
import { Unauthorized } from "./api.js"

export const usePoll = (millis: number, onUnauthorized: () => void, load: () => Promise<void>): string | undefined => {
  const [error, setError] = useState<string | undefined>(undefined)
  const latest = useRef(load)
  latest.current = load
  useEffect(() => {
    let active = true
    let timer: ReturnType<typeof setTimeout> | undefined
    const tick = async () => {
      try {
        await latest.current()
        if (active) setError(undefined)
      } catch (e) {
        if (!active) return
        if (e instanceof Unauthorized) return onUnauthorized()
        setError(e instanceof Error ? e.message : String(e))
      }
      if (active) timer = setTimeout(tick, millis)
    }
    void tick()
    return () => {
      active = false
      if (timer !== undefined) clearTimeout(timer)
    }
  }, [millis])
  return error
}
