// How numbers, durations and URLs are shown, and which URLs may become links.

export const numberFormat = new Intl.NumberFormat();

// "1 link", "1,234 links".
export function counted(n, noun) {
  return `${numberFormat.format(n)} ${noun}${n === 1 ? "" : "s"}`;
}

export function formatDuration(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "";
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

export function formatRate(perSecond) {
  if (typeof perSecond !== "number" || !Number.isFinite(perSecond)) return "";
  return `${perSecond < 10 ? perSecond.toFixed(1) : numberFormat.format(Math.round(perSecond))} pages/s`;
}

export function isWebUrl(text) {
  try {
    const { protocol } = new URL(text);
    return protocol === "http:" || protocol === "https:";
  } catch {
    return false;
  }
}
