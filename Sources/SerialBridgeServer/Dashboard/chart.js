// A small time-series chart drawn on a canvas: one value over a time window, as a line, with a
// min–max band where the points are downsampled buckets. Round value ticks, local-time ticks, a gap
// wherever data is missing, and a readout under the pointer. Draws at the screen's pixel density
// and redraws itself when resized. Colours come from the page's CSS variables (`--chart-*`).

import { clock, formatNumber, readable } from "./format.js";

/** The smallest of 1, 2, 2.5, 5 × 10ⁿ that is at least `raw`: a round tick step. */
export function niceStep(raw) {
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const factor of [1, 2, 2.5, 5, 10]) {
    if (factor * power >= raw * (1 - 1e-9)) return factor * power;
  }
  return 10 * power;
}

/** Value ticks covering `[min, max]` with about `count` steps. */
export function valueTicks(min, max, count = 4) {
  const step = niceStep((max - min) / count);
  const first = Math.ceil(min / step - 1e-9);
  const ticks = [];
  // Multiples of the step, not a running sum: 0.1 + 0.1 + 0.1 would drift.
  for (let i = first; i * step <= max + step * 1e-9; i++) ticks.push(Number((i * step).toPrecision(12)));
  return ticks;
}

const second = 1000;
const minute = 60 * second;
const hour = 60 * minute;
const day = 24 * hour;
const timeSteps = [second, 2 * second, 5 * second, 10 * second, 15 * second, 30 * second, minute, 2 * minute,
  5 * minute, 10 * minute, 15 * minute, 30 * minute, hour, 2 * hour, 3 * hour, 6 * hour, 12 * hour, day, 2 * day, 7 * day];

/** A round time step that cuts `span` ms into at most `count` intervals. */
export function timeStep(span, count) {
  const wanted = span / Math.max(1, count);
  return timeSteps.find((step) => step >= wanted) ?? Math.ceil(wanted / day) * day;
}

/** Time ticks in `[from, to]` at `step`, aligned to local midnight so labels read 14:00, 14:15… */
export function timeTicks(from, to, step) {
  const offset = -new Date(from).getTimezoneOffset() * minute;
  const ticks = [];
  for (let t = Math.ceil((from + offset) / step) * step - offset; t <= to; t += step) ticks.push(t);
  return ticks;
}

function timeLabel(t, step) {
  if (step < minute) return clock(t);
  const d = new Date(t);
  const hm = `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
  if (step < day) return hm;
  return `${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

export class TimeChart {
  #canvas;
  #unit;
  #points = [];
  #from = 0;
  #to = 0;
  #gapMs = Infinity;
  #pointerX = null;
  #scheduled = false;
  #observer;

  /** Draws into `canvas`; `unit` labels the readout. */
  constructor(canvas, { unit = "" } = {}) {
    this.#canvas = canvas;
    this.#unit = unit;
    this.#observer = new ResizeObserver(() => this.draw());
    this.#observer.observe(canvas);
    canvas.addEventListener("pointermove", (event) => {
      this.#pointerX = event.offsetX;
      this.draw();
    });
    canvas.addEventListener("pointerleave", () => {
      this.#pointerX = null;
      this.draw();
    });
  }

  /**
   * Replaces the data: points oldest first, `{t, v}` or `{t, v, lo, hi}` for buckets. Points
   * further apart than `gapMs` are not joined.
   */
  setData(points, { gapMs = Infinity } = {}) {
    this.#points = points.filter((p) => Number.isFinite(p.v)).sort((a, b) => a.t - b.t);
    this.#gapMs = gapMs;
    this.draw();
  }

  /** Adds one point (a live reading), in time order. */
  add(point) {
    if (!Number.isFinite(point.v)) return;
    const points = this.#points;
    let i = points.length;
    while (i > 0 && points[i - 1].t > point.t) i--;
    if (points[i - 1]?.t === point.t && points[i - 1].v === point.v) return;
    points.splice(i, 0, point);
    this.draw();
  }

  /** Drops points older than `t` (keeps a sliding window from growing without end). */
  dropBefore(t) {
    const keep = this.#points.findIndex((p) => p.t >= t);
    if (keep > 0) this.#points.splice(0, keep);
    else if (keep === -1) this.#points = [];
  }

  /** The time window shown, ms. */
  setWindow(from, to) {
    this.#from = from;
    this.#to = to;
    this.draw();
  }

  /** Number of points held. */
  get size() {
    return this.#points.length;
  }

  /** Stops watching the canvas's size. */
  destroy() {
    this.#observer.disconnect();
  }

  /** Schedules a redraw on the next frame (many changes in one frame draw once). */
  draw() {
    if (this.#scheduled) return;
    this.#scheduled = true;
    requestAnimationFrame(() => {
      this.#scheduled = false;
      this.#render();
    });
  }

  #render() {
    const canvas = this.#canvas;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (width === 0 || height === 0) return;
    const ratio = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const style = getComputedStyle(canvas);
    const color = (name) => style.getPropertyValue(name).trim() || "#888";
    ctx.font = `11px ${style.fontFamily}`;

    const from = this.#from;
    const to = this.#to > from ? this.#to : from + 1;
    const visible = this.#points.filter((p) => p.t >= from && p.t <= to);
    if (visible.length === 0) {
      ctx.fillStyle = color("--chart-text");
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillText("No data in this range", width / 2, height / 2);
      return;
    }
    let min = Infinity;
    let max = -Infinity;
    for (const p of visible) {
      min = Math.min(min, p.lo ?? p.v, p.v);
      max = Math.max(max, p.hi ?? p.v, p.v);
    }
    if (min === max) {
      const spread = Math.abs(min) * 0.05 || 1;
      min -= spread;
      max += spread;
    } else {
      const margin = (max - min) * 0.08;
      min -= margin;
      max += margin;
    }
    const ticks = valueTicks(min, max, height < 150 ? 3 : 4);
    const labels = ticks.map(formatNumber);
    const left = Math.ceil(Math.max(...labels.map((l) => ctx.measureText(l).width))) + 10;
    const plot = { x: left, y: 8, w: width - left - 8, h: height - 8 - 22 };
    const x = (t) => plot.x + ((t - from) / (to - from)) * plot.w;
    const y = (v) => plot.y + plot.h - ((v - min) / (max - min)) * plot.h;

    // Grid and value labels.
    ctx.strokeStyle = color("--chart-grid");
    ctx.fillStyle = color("--chart-text");
    ctx.lineWidth = 1;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    ticks.forEach((v, i) => {
      const py = Math.round(y(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(plot.x, py);
      ctx.lineTo(plot.x + plot.w, py);
      ctx.stroke();
      ctx.fillText(labels[i], plot.x - 6, py);
    });
    // Time labels.
    const step = timeStep(to - from, Math.max(2, Math.floor(plot.w / 90)));
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const t of timeTicks(from, to, step)) {
      const px = x(t);
      if (px < plot.x + 16 || px > plot.x + plot.w - 16) continue;
      ctx.fillText(timeLabel(t, step), px, plot.y + plot.h + 6);
    }

    // Runs of points close enough to be joined.
    const runs = [];
    let run = [];
    for (const p of visible) {
      if (run.length && p.t - run[run.length - 1].t > this.#gapMs) {
        runs.push(run);
        run = [];
      }
      run.push(p);
    }
    runs.push(run);

    ctx.save();
    ctx.beginPath();
    ctx.rect(plot.x, plot.y - 4, plot.w, plot.h + 8);
    ctx.clip();
    ctx.fillStyle = color("--chart-band");
    for (const r of runs) {
      if (!r.some((p) => p.lo !== undefined)) continue;
      ctx.beginPath();
      r.forEach((p, i) => (i ? ctx.lineTo : ctx.moveTo).call(ctx, x(p.t), y(p.hi ?? p.v)));
      for (let i = r.length - 1; i >= 0; i--) ctx.lineTo(x(r[i].t), y(r[i].lo ?? r[i].v));
      ctx.closePath();
      ctx.fill();
    }
    const line = color("--chart-line");
    ctx.strokeStyle = line;
    ctx.fillStyle = line;
    ctx.lineWidth = 1.6;
    ctx.lineJoin = "round";
    for (const r of runs) {
      if (r.length === 1) {
        ctx.beginPath();
        ctx.arc(x(r[0].t), y(r[0].v), 2, 0, Math.PI * 2);
        ctx.fill();
        continue;
      }
      ctx.beginPath();
      r.forEach((p, i) => (i ? ctx.lineTo : ctx.moveTo).call(ctx, x(p.t), y(p.v)));
      ctx.stroke();
    }
    const last = visible[visible.length - 1];
    ctx.beginPath();
    ctx.arc(x(last.t), y(last.v), 3, 0, Math.PI * 2);
    ctx.fill();
    ctx.restore();

    if (this.#pointerX !== null && this.#pointerX >= plot.x) this.#readout(ctx, visible, plot, x, y, color);
  }

  #readout(ctx, visible, plot, x, y, color) {
    let nearest = visible[0];
    for (const p of visible) {
      if (Math.abs(x(p.t) - this.#pointerX) < Math.abs(x(nearest.t) - this.#pointerX)) nearest = p;
    }
    const px = x(nearest.t);
    ctx.strokeStyle = color("--chart-text");
    ctx.setLineDash([3, 3]);
    ctx.beginPath();
    ctx.moveTo(Math.round(px) + 0.5, plot.y);
    ctx.lineTo(Math.round(px) + 0.5, plot.y + plot.h);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = color("--chart-line");
    ctx.beginPath();
    ctx.arc(px, y(nearest.v), 3.5, 0, Math.PI * 2);
    ctx.fill();
    const unit = this.#unit ? ` ${this.#unit}` : "";
    const range = nearest.lo !== undefined ? `  (${readable(nearest.lo)}–${readable(nearest.hi)})` : "";
    const text = `${clock(nearest.t)}  ${readable(nearest.v)}${unit}${range}`;
    const w = ctx.measureText(text).width + 12;
    const bx = Math.min(Math.max(plot.x, px - w / 2), plot.x + plot.w - w);
    ctx.fillStyle = color("--panel");
    ctx.strokeStyle = color("--line");
    ctx.beginPath();
    ctx.rect(bx, plot.y, w, 20);
    ctx.fill();
    ctx.stroke();
    ctx.fillStyle = color("--text");
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    ctx.fillText(text, bx + 6, plot.y + 10);
  }
}
