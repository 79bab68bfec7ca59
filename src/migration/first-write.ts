/**
 * Whether anything was written to a resource since a resourceVersion, answered by a short watch
 * from it (the API server replays every change since; BOOKMARKs are not changes). Used where a
 * proof needs "nothing changed since": rollback safety at Converged, and the verification after
 * a final delta. A watch that cannot be resumed (history compacted) counts as a write.
 */
import type { KubeClient } from "../kube/client.js";
import { describeError, isGone } from "../kube/errors.js";
import type { WatchEvent } from "../kube/object.js";
import type { ResourceRef } from "../kube/resource.js";

const WATCH_SECONDS = 2;

/** What a watch found: a write (the object named), history no longer available, or a failure. */
export type FirstWrite = { write: string } | { gone: true } | { error: string };

/** The first write to `ref` after `rv` that `expected` does not account for, or undefined when there was none. */
export async function firstWrite(client: KubeClient, ref: ResourceRef, rv: string, expected: (ev: WatchEvent) => boolean = () => false, settleMs?: number): Promise<FirstWrite | undefined> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), (WATCH_SECONDS + 3) * 1000);
  const started = Date.now();
  try {
    // The API server replays every change since `rv` at once, in order. With `settleMs`, an
    // expected change still arriving after it makes the answer inconclusive: the watch's end
    // might have cut the replay short, or writes are still going on.
    for await (const ev of client.watch(ref, { resourceVersion: rv, timeoutSeconds: WATCH_SECONDS, signal: abort.signal })) {
      if (ev.type === "BOOKMARK") continue;
      if (expected(ev)) {
        if (settleMs !== undefined && Date.now() - started > settleMs) return { error: `changes were still arriving after ${settleMs} ms` };
        continue;
      }
      return { write: `${ref.kind} ${ev.object.metadata.namespace ? `${ev.object.metadata.namespace}/` : ""}${ev.object.metadata.name}` };
    }
    return undefined;
  } catch (err) {
    if (isGone(err)) return { gone: true };
    return { error: describeError(err) };
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}
