// Times, durations and numbers as the console writes them. Pure functions, no state.

const pad = (n) => String(n).padStart(2, "0");

/** Milliseconds since the epoch from a number or an RFC 3339 string; null when there is none. */
export function parseTime(value) {
  if (value === null || value === undefined || value === "") return null;
  if (typeof value === "number") return value;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

/** Local time: "14:03:07" today, "2026-11-22 14:03" on another day. */
export function fmtTime(ms) {
  const d = new Date(ms);
  const now = new Date();
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (d.toDateString() === now.toDateString()) return time;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time.slice(0, 5)}`;
}

/** "3 h 05 min", "4 min 09 s", "12 s". */
export function fmtDuration(seconds) {
  const total = Math.max(0, Math.round(seconds));
  const d = Math.floor(total / 86_400);
  const hr = Math.floor((total % 86_400) / 3_600);
  const min = Math.floor((total % 3_600) / 60);
  const sec = total % 60;
  if (d > 0) return `${d} d ${hr} h`;
  if (hr > 0) return `${hr} h ${pad(min)} min`;
  if (min > 0) return `${min} min ${pad(sec)} s`;
  return `${sec} s`;
}

export function fmtRelative(ms, now = Date.now()) {
  const diff = (ms - now) / 1000;
  if (Math.abs(diff) < 1) return "just now";
  return diff > 0 ? `in ${fmtDuration(diff)}` : `${fmtDuration(-diff)} ago`;
}

export function fmtNumber(n) {
  return Number(n ?? 0).toLocaleString("en-US");
}
