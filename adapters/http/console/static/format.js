// Figures as people read them: yuan with two decimals and thousands separators, shares, local times.
import { language } from "./i18n.js";

function group(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

// An amount from the API is a decimal string: formatted from its digits, never through a float.
export function yuan(value) {
  if (value === null || value === undefined || value === "") return "—";
  let text = String(value).trim();
  const negative = text.startsWith("-");
  if (negative || text.startsWith("+")) text = text.slice(1);
  let [whole, fraction = ""] = text.split(".");
  if (fraction.length > 2) {
    // round half up on the decimal digits (the API gives two already; this is for sums)
    const cents = BigInt(whole + fraction.slice(0, 2)) + (Number(fraction[2]) >= 5 ? 1n : 0n);
    const padded = cents.toString().padStart(3, "0");
    whole = padded.slice(0, -2);
    fraction = padded.slice(-2);
  }
  fraction = (fraction + "00").slice(0, 2);
  return `${negative ? "-" : ""}¥${group(whole.replace(/^0+(?=\d)/, ""))}.${fraction}`;
}

// Sums of decimal strings, exact (cents as BigInt).
export function addAmounts(values) {
  let cents = 0n;
  for (const value of values) {
    const text = String(value);
    const negative = text.startsWith("-");
    const [whole, fraction = ""] = text.replace(/^[-+]/, "").split(".");
    const part = BigInt(whole || "0") * 100n + BigInt((fraction + "00").slice(0, 2));
    cents += negative ? -part : part;
  }
  const negative = cents < 0n;
  const digits = (negative ? -cents : cents).toString().padStart(3, "0");
  return `${negative ? "-" : ""}${digits.slice(0, -2)}.${digits.slice(-2)}`;
}

// Axis ticks of amounts: whole yuan, large ones short (¥1.5M; 万 and 亿 in Chinese).
export function yuanShort(value) {
  const v = Math.abs(value);
  const sign = value < 0 ? "-" : "";
  const trim = (x) => String(Number(x.toFixed(2)));
  if (language() === "zh-CN") {
    if (v >= 1e8) return `${sign}¥${trim(v / 1e8)}亿`;
    if (v >= 1e4) return `${sign}¥${trim(v / 1e4)}万`;
  } else {
    if (v >= 1e6) return `${sign}¥${trim(v / 1e6)}M`;
    if (v >= 1e3) return `${sign}¥${trim(v / 1e3)}K`;
  }
  return `${sign}¥${group(String(Math.round(v)))}`;
}

export function count(value) {
  return group(String(value));
}

export function percent(rate, digits = 1) {
  if (rate === null || rate === undefined) return "—";
  return `${(100 * rate).toFixed(digits)}%`;
}

// An RFC 3339 time from the API is already in the account's (or the portfolio's) zone:
// shown as its own wall-clock time with its offset; the zone's name is labelled beside it.
export function localTime(value) {
  if (!value) return "—";
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.exec(value);
  return match ? `${match[1]} ${match[2]} ${match[3] === "Z" ? "+00:00" : match[3]}` : value;
}

export function locale() {
  return language() === "zh-CN" ? "zh-CN" : "en-GB";
}

// A UTC time from the API (an RFC 3339 string) as wall-clock time in `zone`, with its offset.
export function zonedTime(value, zone) {
  if (!value) return "—";
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-CA", {
      timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
      hourCycle: "h23", timeZoneName: "longOffset",
    }).formatToParts(new Date(value)).map((p) => [p.type, p.value]),
  );
  const offset = parts.timeZoneName === "GMT" ? "+00:00" : parts.timeZoneName.replace("GMT", "");
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute} ${offset}`;
}
