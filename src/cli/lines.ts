/** Pieces of the lines the history commands (import, backfill) print about what they stored. */

/** A time as its UTC minute, `2024-09-21T00:00Z`; `?` when unknown. */
export const isoMinute = (time: number | undefined): string =>
  time === undefined ? '?' : `${new Date(time).toISOString().slice(0, 16)}Z`;

/** What a line adds when `--replace` wrote candles (`changed`) and when a gap was recorded (`repairFrom`). */
export function storedNotes(result: { readonly changed?: number; readonly repairFrom?: number }): string {
  const changed = result.changed === undefined ? '' : `; ${result.changed} new or corrected`;
  const hole =
    result.repairFrom === undefined
      ? ''
      : `; after a hole in the stored history: the service repairs from ${isoMinute(result.repairFrom)} at its next start`;
  return changed + hole;
}
