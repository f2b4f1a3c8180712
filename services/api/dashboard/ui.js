// Small shared pieces: html (htm bound to Preact), formatting, badges, the lifetime bar, polling.
import htm from 'htm';
import { h } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

export const html = htm.bind(h);

export function Badge({ value }) {
  return html`<span class=${`badge ${value}`}>${value}</span>`;
}

/** `in 3d 4h` / `5m ago`. */
export function relative(iso) {
  if (!iso) return '—';
  const ms = Date.parse(iso) - Date.now();
  const abs = Math.abs(ms);
  const units = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ];
  const parts = [];
  let rest = abs;
  for (const [unit, size] of units) {
    if (rest >= size && parts.length < 2) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  const text = parts.join(' ') || '0s';
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}

export function dateTime(iso) {
  return iso ? `${iso.slice(0, 19).replace('T', ' ')} UTC` : '—';
}

/** Share of the lifetime used, as a bar (10 % steps: the CSP allows no inline styles). */
export function LifetimeBar({ notBefore, notAfter }) {
  if (!notBefore || !notAfter) return null;
  const start = Date.parse(notBefore);
  const end = Date.parse(notAfter);
  const used = end > start ? Math.min(1, Math.max(0, (Date.now() - start) / (end - start))) : 1;
  const step = Math.round(used * 10) * 10;
  const tone = used >= 1 ? 'over' : used > 2 / 3 ? 'late' : '';
  return html`<div class="bar" title=${`${Math.round(used * 100)}% of the lifetime used`}>
    <span class=${`w${step} ${tone}`} data-used=${Math.round(used * 100)}></span>
  </div>`;
}

/** Calls `load` now and every `ms` while the component is shown (live updates without a reload). */
export function usePolling(load, ms, deps) {
  const saved = useRef(load);
  saved.current = load;
  useEffect(() => {
    let stopped = false;
    let timer;
    const tick = async () => {
      try {
        await saved.current();
      } finally {
        if (!stopped) timer = setTimeout(tick, ms);
      }
    };
    tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, deps);
}

export function Notice({ notice }) {
  if (!notice) return null;
  return html`<div class=${`notice ${notice.tone}`} role="status" data-testid="notice">${notice.text}</div>`;
}

/** A notice from an API error, with the time of the next slot for a 429. */
export function errorNotice(error) {
  const retry = error.problem?.retryAfter ? ` Next slot: ${dateTime(error.problem.retryAfter)}.` : '';
  return { tone: 'error', text: `${error.status ?? ''} ${error.message}${retry}`.trim() };
}
