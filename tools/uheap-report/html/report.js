// SPDX-License-Identifier: MIT
// The interactive report's script: reads the inline data (the element #report-data, written by
// html_report.cpp; its fields are described in docs/profiling.md) and draws the summary, the
// timeline (SVG, zoom and hover), the heap map of the snapshot chosen on the slider (canvas,
// hover) and the tables. Plain JavaScript, no library, nothing loaded from anywhere.
// window.uheapReport exposes the page's state and layout for tests/browser/report_test.js.
(function () {
  'use strict';

  const data = JSON.parse(document.getElementById('report-data').textContent);
  const SVG_NS = 'http://www.w3.org/2000/svg';

  // ---- formatting: the same rules as uheap-report's text (svg_util.hpp) ----------------------

  /** "512 B", "64 KB", "1.5 MB": binary units, at most one decimal (human_bytes()). */
  function humanBytes(bytes) {
    const units = ['B', 'KB', 'MB', 'GB', 'TB'];
    let unit = 0;
    while (bytes >= 1024 && unit < 4) {
      bytes /= 1024;
      unit++;
    }
    if (unit === 0 || bytes >= 100 || bytes === Math.floor(bytes)) return bytes.toFixed(0) + ' ' + units[unit];
    return bytes.toFixed(1) + ' ' + units[unit];
  }

  /** "850 ns", "12.5 us", "3.2 ms", "1.5 s" (human_duration()). */
  function humanDuration(ns) {
    if (ns < 1e3) return ns.toFixed(0) + ' ns';
    if (ns < 1e6) return (ns / 1e3).toFixed(1) + ' us';
    if (ns < 1e9) return (ns / 1e6).toFixed(1) + ' ms';
    return (ns / 1e9).toFixed(1) + ' s';
  }

  /** An exact count with thousands separators: 130,048. */
  function exact(n) {
    return Number(n).toLocaleString('en-US');
  }

  /** Bytes readable and exact: "127 KB (130,048 B)". */
  function bytesExact(n) {
    return n < 1024 ? exact(n) + ' B' : humanBytes(n) + ' (' + exact(n) + ' B)';
  }

  /** A round step (1, 2 or 5 times a power of ten) giving about `ticks` intervals up to `max`. */
  function niceStep(max, ticks) {
    if (!(max > 0)) return 1;
    const raw = max / ticks;
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const unit = raw / power;
    return (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10) * power;
  }

  /** niceStep() in the unit (B, KB, MB...) the maximum is expressed in: 64 KB, 128 KB... */
  function niceByteStep(max, ticks) {
    let unit = 1;
    while (max / unit >= 1024) unit *= 1024;
    return niceStep(max / unit, ticks) * unit;
  }

  /** A number for an axis label: integers as such, otherwise three significant digits. */
  function axisNumber(v) {
    return v === Math.floor(v) ? String(v) : String(Number(v.toPrecision(3)));
  }

  const tagNames = data.tag_names;
  /** "list" for a named tag, "tag 7" otherwise, "untagged" for -1 (Profile::label()). */
  function tagLabel(tag) {
    if (tag < 0) return 'untagged';
    return Object.prototype.hasOwnProperty.call(tagNames, tag) ? tagNames[tag] : 'tag ' + tag;
  }

  /** "area 0 +0x1a40 (block 210)": where an object is, as the text summary writes it. */
  function where(area, offset, block) {
    return 'area ' + area + ' +0x' + offset.toString(16) + ' (block ' + block + ')';
  }

  /** What an age means: 0 is "not yet judged", -1 unknown. */
  function ageText(age) {
    if (age < 0) return 'unknown (the profiler never saw it allocated)';
    if (age === 0) return '0: allocated since the last collection, not yet judged';
    return age + (age === 1 ? ' collection survived' : ' collections survived');
  }

  // ---- DOM helpers: text always goes in as text, never as markup (tag names are arbitrary) ---

  /** An HTML element with attributes and children (strings become text nodes). */
  function el(name, attrs, children) {
    const node = document.createElement(name);
    for (const key in attrs || {}) {
      if (key === 'text') node.textContent = attrs[key];
      else node.setAttribute(key, attrs[key]);
    }
    for (const child of children || []) node.append(child);
    return node;
  }

  /** An SVG element with attributes; `text` sets its text. */
  function svg(name, attrs, parent) {
    const node = document.createElementNS(SVG_NS, name);
    for (const key in attrs || {}) {
      if (key === 'text') node.textContent = attrs[key];
      else node.setAttribute(key, attrs[key]);
    }
    if (parent) parent.appendChild(node);
    return node;
  }

  // ---- the tooltip, shared by the timeline and the heap map -----------------------------------

  const tooltip = document.getElementById('tooltip');

  /** Shows `head` and `rows` (strings, or [colour, text] pairs) beside the pointer. */
  function showTooltip(clientX, clientY, head, rows) {
    tooltip.replaceChildren(el('div', { class: 'head', text: head }));
    for (const row of rows) {
      const line = el('div', { class: 'row' });
      if (Array.isArray(row)) {
        line.append(el('span', { class: 'sw', style: 'background:' + row[0] }), row[1]);
      } else {
        line.textContent = row;
      }
      tooltip.append(line);
    }
    tooltip.hidden = false;
    // Beside the pointer, flipped to the other side near the window's right or bottom edge.
    const box = tooltip.getBoundingClientRect();
    let x = clientX + 14;
    let y = clientY + 14;
    if (x + box.width > window.innerWidth - 4) x = Math.max(4, clientX - 14 - box.width);
    if (y + box.height > window.innerHeight - 4) y = Math.max(4, clientY - 14 - box.height);
    tooltip.style.left = x + 'px';
    tooltip.style.top = y + 'px';
  }

  function hideTooltip() {
    tooltip.hidden = true;
  }

  // ---- summary ------------------------------------------------------------------------------

  // One card per headline figure, with the raw number in data-value (what the browser test
  // compares with the profile) and the text summary's own formatting as the text.
  function renderSummary() {
    const s = data.summary;
    const t = s.text;
    document.getElementById('title').textContent = data.title;
    const cards = [];
    function card(id, key, value, raw, sub) {
      const node = el('div', { class: 'card', id: 'summary-' + id, 'data-value': String(raw) }, [
        el('div', { class: 'k', text: key }),
        el('div', { class: 'v', text: value }),
      ]);
      if (sub) node.append(el('div', { class: 'sub', text: sub }));
      cards.push(node);
    }
    if (s.has_heap) {
      card('heap', 'heap size', t.total, s.total_bytes, exact(s.total_bytes) + ' B');
      card('used', 'used', t.used, s.used_bytes, t.used_percent + '% of the heap');
      card('objects', 'objects', exact(s.objects), s.objects);
      card('largest-free', 'largest free run', t.largest_free, s.largest_free_bytes);
      card('fragmentation', 'fragmentation', t.fragmentation, s.fragmentation, '1 - largest free / free');
    }
    card('collections', 'collections', String(data.collections), data.collections,
      s.samples + ' in the timeline');
    if (s.pause_ns) {
      card('pause-p50', 'pause p50', t.pause_p50, s.pause_ns.p50);
      card('pause-p99', 'pause p99', t.pause_p99, s.pause_ns.p99);
      card('pause-max', 'pause max', t.pause_max, s.pause_ns.max, 'mean ' + t.pause_mean);
    }
    card('snapshots', 'snapshots', String(data.snapshots.length), data.snapshots.length);
    card('alarms', 'alarms', String(data.alarms.length), data.alarms.length,
      data.out_of_memory.length + ' out of memory');
    document.getElementById('summary').replaceChildren(...cards);
  }

  // ---- one colour per tag, for the timeline's bands and the heap map alike -------------------

  const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f',
    '#17becf', '#bcbd22', '#1f77b4'];
  const OTHER_COLOR = '#bab0ac';

  // What the snapshots hold, counted straight from the flat spans (a free run is minus its
  // length; an object is n_blocks, flags, tag, age[, site]) so that no snapshot is decoded before
  // it is shown: whether any object is not yet judged (age 0), and each tag's blocks of judged
  // objects over all snapshots.
  const snapshotTally = (function () {
    let young = false;
    const blocks = new Map();
    const stride = data.span_stride;
    for (const s of data.snapshots) {
      for (const a of s.areas) {
        const flat = a.spans;
        for (let i = 0; i < flat.length; i += flat[i] < 0 ? 1 : stride) {
          if (flat[i] < 0) continue;
          const tag = flat[i + 2];
          const isYoung = flat[i + 3] === 0;
          young = young || isYoung;
          blocks.set(tag, (blocks.get(tag) || 0) + (isYoung ? 0 : flat[i]));
        }
      }
    }
    return { young, blocks };
  })();

  // Tags ranked by their peak live bytes after a collection (the timeline), then by blocks in
  // the snapshots (for tags the timeline never saw live, and version 1 profiles), then by
  // number. The first twelve get a colour of their own everywhere on the page.
  const tagPeak = new Map(data.timeline.live_by_tag.map(([tag, bytes]) => [tag, bytes.reduce((m, b) => Math.max(m, b), 0)]));
  const tagRank = (function () {
    const tags = new Set([...tagPeak.keys(), ...snapshotTally.blocks.keys()]);
    tags.delete(-1); // untagged objects have a grey of their own
    const ranked = [...tags].sort((a, b) => (tagPeak.get(b) || 0) - (tagPeak.get(a) || 0) ||
      (snapshotTally.blocks.get(b) || 0) - (snapshotTally.blocks.get(a) || 0) || a - b);
    return new Map(ranked.map((tag, i) => [tag, i]));
  })();

  /** A tag's own colour, or null for a tag beyond the palette ("other tags"). */
  function tagColor(tag) {
    const rank = tagRank.get(tag);
    return rank !== undefined && rank < PALETTE.length ? PALETTE[rank] : null;
  }

  // ---- timeline -----------------------------------------------------------------------------

  const tl = data.timeline;
  const nSamples = tl.collection.length;
  const timelineBox = document.getElementById('timeline');
  const xAxisSelect = document.getElementById('x-axis');
  const MAX_BANDS = 6;

  // What the x axis counts, per sample: the collection index, ms on the heap's clock, or bytes
  // allocated (the last two from version 2 profiles on).
  const xColumns = {
    collection: tl.collection,
    time: tl.time_ns.map((ns) => ns / 1e6),
    allocated: tl.bytes_allocated,
  };
  const xNames = {
    collection: 'collection',
    time: "time (ms, the heap's clock)",
    allocated: 'bytes allocated',
  };

  // The stacked bands: the six tags with the most live bytes at their peak each get their
  // colour, the rest share "other tags" (as timeline.svg does).
  const bands = (function () {
    const ranked = tl.live_by_tag
      .map(([tag, bytes]) => ({ tag, bytes }))
      .sort((a, b) => tagRank.get(a.tag) - tagRank.get(b.tag));
    const out = ranked.slice(0, MAX_BANDS).map((t) => ({ label: tagLabel(t.tag), color: tagColor(t.tag) || OTHER_COLOR, bytes: t.bytes }));
    if (ranked.length > MAX_BANDS) {
      const other = new Array(nSamples).fill(0);
      for (const t of ranked.slice(MAX_BANDS)) t.bytes.forEach((b, i) => (other[i] += b));
      out.push({ label: 'other tags', color: OTHER_COLOR, bytes: other });
    }
    return out;
  })();

  const view = {
    axis: 'collection',
    lo: 0, // the visible x range, in the axis' units
    hi: 0,
    geometry: null, // where the plot sits, for the hover and the tests
  };

  /** The full x range of the current axis. */
  function fullRange() {
    const xs = xColumns[view.axis];
    return nSamples ? [xs[0], xs[nSamples - 1]] : [0, 0];
  }

  /** The index of the sample nearest to x (the columns are non-decreasing). */
  function nearestSample(x) {
    const xs = xColumns[view.axis];
    let lo = 0;
    let hi = nSamples - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (xs[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0 && Math.abs(xs[lo - 1] - x) <= Math.abs(xs[lo] - x)) lo--;
    return lo;
  }

  /** Where an event after `collection` goes on the x axis: the first sample at or after it. */
  function xOfCollection(collection) {
    const cs = tl.collection;
    let i = 0;
    while (i < nSamples - 1 && cs[i] < collection) i++;
    return xColumns[view.axis][i];
  }

  // Draws the four panels for the visible range: heap bytes with fragmentation, live bytes per
  // tag (stacked), the largest free run (log scale) and pauses; then markers, the x axis and the
  // transparent overlay that takes the pointer. Y axes fit the visible samples.
  function renderTimeline() {
    const width = Math.max(360, timelineBox.clientWidth);
    const left = 64;
    const right = 112; // fragmentation axis and the tag legend
    const plotW = width - left - right;
    const heights = [150, 130, 80, 80];
    const gap = 32;
    const top = 22;
    const height = top + heights.reduce((a, b) => a + b, 0) + gap * (heights.length - 1) + 40;
    const root = svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, id: 'timeline-svg' });
    svg('rect', { width, height, fill: '#fff' }, root);
    timelineBox.replaceChildren(root);
    if (nSamples === 0) {
      svg('text', { x: left, y: top + 20, text: 'No collection was recorded.' }, root);
      view.geometry = null;
      updateRangeLabel();
      return;
    }
    const xs = xColumns[view.axis];
    const span = view.hi - view.lo;
    const X = (v) => (span > 0 ? left + ((v - view.lo) / span) * plotW : left + plotW / 2);
    // The visible samples, one more on each side so the lines run to the frame (clipped).
    let first = 0;
    while (first < nSamples - 1 && xs[first + 1] < view.lo) first++;
    let last = nSamples - 1;
    while (last > 0 && xs[last - 1] > view.hi) last--;
    const visible = [];
    for (let i = first; i <= last; i++) visible.push(i);
    const inside = visible.filter((i) => xs[i] >= view.lo && xs[i] <= view.hi);
    const fitted = inside.length ? inside : visible;

    const defs = svg('defs', {}, root);
    const clip = svg('clipPath', { id: 'plot-clip' }, defs);
    svg('rect', { x: left, y: 0, width: plotW, height }, clip);

    const panels = [];
    let y = top;
    for (const h of heights) {
      panels.push({ y, h });
      y += h + gap;
    }
    const bottom = panels[3].y + panels[3].h;

    // Panel 1: used and free bytes, fragmentation on the right axis (0..1).
    {
      const { y: py, h } = panels[0];
      let max = 1;
      for (const i of fitted) max = Math.max(max, tl.used_bytes[i] + tl.free_bytes[i]);
      const step = niceByteStep(max, 4);
      max = Math.ceil(max / step) * step;
      panelFrame(root, left, plotW, py, h, 'heap bytes after each collection', gridLines(max, step, humanBytes));
      for (let i = 0; i <= 4; i++) {
        svg('text', { x: left + plotW + 6, y: py + h - (i / 4) * h + 4, text: axisNumber(i / 4) }, root);
      }
      series(root, visible, X, (i) => py + h - (tl.used_bytes[i] / max) * h, 'used');
      series(root, visible, X, (i) => py + h - (tl.free_bytes[i] / max) * h, 'free');
      series(root, visible, X, (i) => py + h - tl.fragmentation[i] * h, 'frag');
    }
    // Panel 2: live bytes per tag, stacked; a legend to the right.
    {
      const { y: py, h } = panels[1];
      let max = 1;
      for (const i of fitted) {
        let total = 0;
        for (const b of bands) total += b.bytes[i];
        max = Math.max(max, total);
      }
      const step = niceByteStep(max, 3);
      max = Math.ceil(max / step) * step;
      panelFrame(root, left, plotW, py, h, 'live bytes per tag after each collection', gridLines(max, step, humanBytes));
      if (bands.length === 0) {
        svg('text', { x: left + 10, y: py + h / 2, class: 'note', text: 'no per-tag samples (a version 1 profile)' }, root);
      }
      const below = new Array(nSamples).fill(0);
      bands.forEach((band, b) => {
        const above = below.slice();
        for (const i of visible) above[i] += band.bytes[i];
        const points = visible.map((i) => `${X(xs[i]).toFixed(1)},${(py + h - (above[i] / max) * h).toFixed(1)}`);
        for (let k = visible.length - 1; k >= 0; k--) {
          const i = visible[k];
          points.push(`${X(xs[i]).toFixed(1)},${(py + h - (below[i] / max) * h).toFixed(1)}`);
        }
        svg('polygon', { class: 'band', fill: band.color, points: points.join(' '), 'clip-path': 'url(#plot-clip)' }, root);
        for (const i of visible) below[i] = above[i];
        const ly = py + 10 + b * 15;
        svg('rect', { x: left + plotW + 8, y: ly - 8, width: 9, height: 9, fill: band.color }, root);
        const name = band.label.length > 14 ? band.label.slice(0, 13) + '\u2026' : band.label;
        svg('text', { x: left + plotW + 21, y: ly, text: name }, root);
      });
    }
    // Panel 3: the largest free run on a log scale from half a block to the heap.
    {
      const { y: py, h } = panels[2];
      const block = Math.max(data.block_bytes, 1);
      const lo = block / 2;
      let hiBytes = block * 2;
      for (let i = 0; i < nSamples; i++) hiBytes = Math.max(hiBytes, tl.used_bytes[i] + tl.free_bytes[i]);
      const decades = Math.log2(hiBytes / lo);
      const grid = [];
      for (let v = block; v <= hiBytes * 1.0001; v *= 16) grid.push([Math.log2(v / lo) / decades, humanBytes(v)]);
      panelFrame(root, left, plotW, py, h, 'largest free run (log scale)', grid);
      series(root, visible, X, (i) => {
        const b = tl.largest_free_bytes[i];
        const f = b === 0 ? 0 : Math.log2(Math.max(b, lo) / lo) / decades;
        return py + h - Math.min(1, f) * h;
      }, 'largest');
    }
    // Panel 4: pauses, in microseconds.
    {
      const { y: py, h } = panels[3];
      let max = 0.001;
      for (const i of fitted) max = Math.max(max, tl.pause_ns[i] / 1000);
      const step = niceStep(max, 3);
      max = Math.ceil(max / step) * step;
      const p = data.summary.text;
      panelFrame(root, left, plotW, py, h, `pause (\u00b5s): p50 ${p.pause_p50}, p99 ${p.pause_p99}, max ${p.pause_max}`,
        gridLines(max, step, axisNumber));
      series(root, visible, X, (i) => py + h - Math.min(1, tl.pause_ns[i] / 1000 / max) * h, 'pause');
    }

    markers(root, X, top, bottom);
    xAxis(root, X, left, plotW, bottom);

    // The pointer: hover shows the nearest sample, a drag selects a range to zoom into.
    const guide = svg('line', { class: 'guide', x1: 0, x2: 0, y1: top, y2: bottom, visibility: 'hidden' }, root);
    const selection = svg('rect', { class: 'selection', x: 0, y: top, width: 0, height: bottom - top, visibility: 'hidden' }, root);
    const overlay = svg('rect', { class: 'overlay', id: 'timeline-overlay', x: left, y: top, width: plotW, height: bottom - top }, root);
    view.geometry = { svg: root, left, plotW, top, bottom, X, guide, selection, overlay };
    attachTimelinePointer();
    updateRangeLabel();
  }

  /** The legend of the line series, above the panels: HTML, so that it wraps in a narrow window. */
  function renderTimelineLegend() {
    const entries = [['#4e79a7', 'solid', 'used'], ['#59a14f', 'solid', 'free'], ['#e15759', 'dashed', 'fragmentation (right axis)'],
      ['#f28e2b', 'solid', 'largest free run'], ['#b07aa1', 'solid', 'pause'], ['#d62728', 'solid', 'out of memory'],
      ['#ff9f1c', 'dotted', 'alarm'], ['#1f4e79', 'dashed', 'snapshot shown (ticks: the others)']];
    document.getElementById('timeline-legend').replaceChildren(...entries.map(([color, style, label]) =>
      el('span', {}, [el('span', { class: 'line', style: `border-top: 2px ${style} ${color}` }), label])));
  }

  /** Grid lines every `step` up to `max`, as [fraction, label] pairs. */
  function gridLines(max, step, label) {
    const out = [];
    for (let v = 0; v <= max * 1.0001; v += step) out.push([v / max, label(v)]);
    return out;
  }

  /** A panel's frame, title and labelled horizontal grid lines. */
  function panelFrame(root, left, plotW, y, h, title, grid) {
    svg('rect', { x: left, y, width: plotW, height: h, class: 'frame' }, root);
    svg('text', { x: left, y: y - 6, class: 'panel-title', text: title }, root);
    for (const [fraction, label] of grid) {
      const gy = y + h - fraction * h;
      svg('line', { x1: left, y1: gy, x2: left + plotW, y2: gy, class: 'grid' }, root);
      svg('text', { x: left - 5, y: gy + 4, class: 'ylabel', text: label }, root);
    }
  }

  /** One series as a polyline through the visible samples, clipped to the plot. */
  function series(root, visible, X, Y, cls) {
    const xs = xColumns[view.axis];
    const points = visible.map((i) => `${X(xs[i]).toFixed(1)},${Y(i).toFixed(1)}`).join(' ');
    svg('polyline', { class: cls, points, 'clip-path': 'url(#plot-clip)' }, root);
  }

  /** Out-of-memory events, alarms, and the snapshots (ticks; the one shown as a dashed line). */
  function markers(root, X, top, bottom) {
    const g = svg('g', { id: 'markers', 'clip-path': 'url(#plot-clip)' }, root);
    for (const e of data.out_of_memory) {
      const x = X(xOfCollection(e.collection));
      svg('line', { x1: x, y1: top, x2: x, y2: bottom, class: 'oom' }, g);
    }
    for (const a of data.alarms) {
      const x = X(xOfCollection(a.collection));
      svg('line', { x1: x, y1: top, x2: x, y2: bottom, class: 'alarm' }, g);
    }
    data.snapshots.forEach((s, i) => {
      const x = X(xOfCollection(s.collection));
      if (i === map.index) svg('line', { x1: x, y1: top, x2: x, y2: bottom, class: 'snap-now', id: 'snapshot-marker' }, g);
      else svg('line', { x1: x, y1: top, x2: x, y2: top + 8, class: 'snap-tick' }, g);
    });
  }

  function xAxis(root, X, left, plotW, bottom) {
    const span = view.hi - view.lo;
    const allocated = view.axis === 'allocated';
    let step = allocated ? niceByteStep(span, 6) : niceStep(span, 7);
    if (view.axis === 'collection') step = Math.max(1, step);
    const label = (v) => (allocated ? humanBytes(v) : axisNumber(Number(v.toPrecision(12))));
    if (span > 0) {
      for (let v = Math.ceil(view.lo / step) * step; v <= view.hi + 1e-9; v += step) {
        svg('text', { x: X(v), y: bottom + 15, class: 'xlabel', text: label(v) }, root);
      }
    } else {
      svg('text', { x: X(view.lo), y: bottom + 15, class: 'xlabel', text: label(view.lo) }, root);
    }
    svg('text', { x: left + plotW / 2, y: bottom + 32, class: 'xlabel', text: xNames[view.axis] }, root);
  }

  /** "collections 5 to 30 of 1 to 42": what the zoom shows. */
  function updateRangeLabel() {
    const [lo, hi] = fullRange();
    const fmt = (v) => (view.axis === 'allocated' ? humanBytes(v) : axisNumber(Number(v.toPrecision(6))));
    const zoomed = view.lo > lo || view.hi < hi;
    document.getElementById('timeline-range').textContent = nSamples === 0 ? ''
      : (zoomed ? `showing ${fmt(view.lo)} to ${fmt(view.hi)} of ${fmt(lo)} to ${fmt(hi)}` : `${fmt(lo)} to ${fmt(hi)}`);
    document.getElementById('timeline-reset').disabled = !zoomed;
  }

  /** Zooms to [lo, hi] (axis units), kept inside the full range and at least a sample wide. */
  function setRange(lo, hi) {
    const [min, max] = fullRange();
    const minSpan = view.axis === 'collection' ? 2 : (max - min) / 1e4;
    if (hi - lo < minSpan) {
      const mid = (lo + hi) / 2;
      lo = mid - minSpan / 2;
      hi = mid + minSpan / 2;
    }
    view.lo = Math.max(min, lo);
    view.hi = Math.min(max, hi);
    renderTimeline();
  }

  function resetZoom() {
    const [lo, hi] = fullRange();
    view.lo = lo;
    view.hi = hi;
    renderTimeline();
  }

  /** The x value under a client x coordinate. */
  function valueAt(clientX) {
    const g = view.geometry;
    const box = g.svg.getBoundingClientRect();
    const px = Math.min(Math.max(clientX - box.left, g.left), g.left + g.plotW);
    return view.lo + ((px - g.left) / g.plotW) * (view.hi - view.lo);
  }

  // Hover: a guide line and every value of the nearest sample. Drag: a selection that zooms in
  // when released (a click without movement shows the nearest snapshot). Wheel: zoom in or out
  // around the pointer.
  function attachTimelinePointer() {
    const g = view.geometry;
    let dragFrom = null;
    g.overlay.addEventListener('mousemove', (ev) => {
      if (dragFrom !== null) return;
      const i = nearestSample(valueAt(ev.clientX));
      const x = g.X(xColumns[view.axis][i]);
      g.guide.setAttribute('x1', x);
      g.guide.setAttribute('x2', x);
      g.guide.setAttribute('visibility', 'visible');
      showSampleTooltip(i, ev.clientX, ev.clientY);
    });
    g.overlay.addEventListener('mouseleave', () => {
      g.guide.setAttribute('visibility', 'hidden');
      hideTooltip();
    });
    g.overlay.addEventListener('mousedown', (ev) => {
      if (ev.button !== 0) return;
      ev.preventDefault();
      dragFrom = ev.clientX;
      hideTooltip();
      g.guide.setAttribute('visibility', 'hidden');
      const box = g.svg.getBoundingClientRect();
      const onMove = (e) => {
        const a = Math.min(Math.max(Math.min(dragFrom, e.clientX) - box.left, g.left), g.left + g.plotW);
        const b = Math.min(Math.max(Math.max(dragFrom, e.clientX) - box.left, g.left), g.left + g.plotW);
        g.selection.setAttribute('x', a);
        g.selection.setAttribute('width', b - a);
        g.selection.setAttribute('visibility', 'visible');
      };
      const onUp = (e) => {
        window.removeEventListener('mousemove', onMove);
        window.removeEventListener('mouseup', onUp);
        const from = dragFrom;
        dragFrom = null;
        g.selection.setAttribute('visibility', 'hidden');
        if (Math.abs(e.clientX - from) >= 4) {
          const a = valueAt(Math.min(from, e.clientX));
          const b = valueAt(Math.max(from, e.clientX));
          setRange(a, b);
        } else {
          selectSnapshotNear(tl.collection[nearestSample(valueAt(e.clientX))]);
        }
      };
      window.addEventListener('mousemove', onMove);
      window.addEventListener('mouseup', onUp);
    });
    g.overlay.addEventListener('wheel', (ev) => {
      ev.preventDefault();
      const at = valueAt(ev.clientX);
      const factor = ev.deltaY < 0 ? 0.8 : 1.25;
      setRange(at - (at - view.lo) * factor, at + (view.hi - at) * factor);
    }, { passive: false });
  }

  /** Every figure of sample i, exactly, and the events after that collection. */
  function showSampleTooltip(i, clientX, clientY) {
    const c = tl.collection[i];
    const rows = [
      'time ' + (tl.time_ns[i] / 1e6).toFixed(3) + ' ms',
      'allocated so far ' + bytesExact(tl.bytes_allocated[i]),
      ['#4e79a7', 'used ' + bytesExact(tl.used_bytes[i])],
      ['#59a14f', 'free ' + bytesExact(tl.free_bytes[i])],
      ['#e15759', 'fragmentation ' + tl.fragmentation[i].toFixed(4)],
      ['#f28e2b', 'largest free run ' + bytesExact(tl.largest_free_bytes[i])],
      ['#b07aa1', 'pause ' + humanDuration(tl.pause_ns[i]) + ' (' + exact(tl.pause_ns[i]) + ' ns)'],
      'freed ' + exact(tl.objects_freed[i]) + ' objects, ' + bytesExact(tl.bytes_freed[i]),
      'live objects ' + exact(tl.live_objects[i]),
    ];
    for (const band of bands) {
      if (band.bytes[i] > 0) rows.push([band.color, band.label + ' ' + bytesExact(band.bytes[i])]);
    }
    for (const e of data.out_of_memory) {
      if (e.collection === c) rows.push(['#d62728', 'out of memory: ' + exact(e.n_bytes) + ' bytes asked']);
    }
    const alarms = data.alarms.filter((a) => a.collection === c);
    if (alarms.length) {
      const large = alarms.filter((a) => a.kind === 'large_alloc').length;
      rows.push(['#ff9f1c', `alarms: ${large} large allocation, ${alarms.length - large} low free run`]);
    }
    showTooltip(clientX, clientY, 'collection ' + c, rows);
  }

  // ---- heap map -----------------------------------------------------------------------------

  const canvas = document.getElementById('heapmap');
  const slider = document.getElementById('snapshot-slider');
  const colorBySelect = document.getElementById('color-by');
  const FLAG_FINALISER = 1;
  const FLAG_NO_SCAN = 2;
  const FLAG_WEAK = 4;
  const LABEL_H = 18;
  const AREA_GAP = 6;

  const map = {
    index: Math.max(0, data.snapshots.length - 1), // the final snapshot first
    colorBy: data.map.color_by,
    decoded: new Map(), // snapshot index -> its spans as typed arrays
    layout: null, // where the cells are on the canvas
    cell: null, // the current snapshot's per-block classes
  };

  // A snapshot's spans as parallel typed arrays per area, from the flat encoding (a free run is
  // minus its length; an object is n_blocks, flags, tag, age[, site]). Kept once decoded.
  function decode(index) {
    if (map.decoded.has(index)) return map.decoded.get(index);
    const stride = data.span_stride;
    const areas = data.snapshots[index].areas.map((a) => {
      const flat = a.spans;
      let n = 0;
      for (let i = 0; i < flat.length; i += flat[i] < 0 ? 1 : stride) n++;
      const out = {
        pool: a.pool_blocks,
        n,
        start: new Int32Array(n),
        len: new Int32Array(n),
        flags: new Int8Array(n), // -1: a free run
        tag: new Int32Array(n),
        age: new Float64Array(n),
        site: new Int32Array(n),
      };
      let block = 0;
      for (let i = 0, k = 0; i < flat.length; k++) {
        out.start[k] = block;
        if (flat[i] < 0) {
          out.len[k] = -flat[i];
          out.flags[k] = -1;
          out.tag[k] = -1;
          out.age[k] = -1;
          out.site[k] = -1;
          i += 1;
        } else {
          out.len[k] = flat[i];
          out.flags[k] = flat[i + 1];
          out.tag[k] = flat[i + 2];
          out.age[k] = flat[i + 3];
          out.site[k] = stride > 4 ? flat[i + 4] : -1;
          i += stride;
        }
        block += out.len[k];
      }
      return out;
    });
    map.decoded.set(index, areas);
    return areas;
  }

  // The colour classes, fixed for the whole series so that a tag keeps its colour when the
  // slider moves: free; "allocated since the last collection" for age-0 objects (when any
  // snapshot has them); then by tag (each tag in its page-wide colour, tags beyond the palette
  // as "other tags", untagged objects grey) or by kind (head, tail, no-scan, finaliser).
  const classes = (function () {
    const young = snapshotTally.young;
    const make = (name, color, label) => ({ name, color, label, rgb: rgbOf(color) });
    const base = [make('free', '#ececec', 'free')];
    if (young) base.push(make('young', '#d4c8ea', 'allocated since the last collection (not yet judged: live or garbage)'));
    const byTag = base.slice();
    const tagClass = new Map();
    const shared = (name, color, label) => {
      let i = byTag.findIndex((c) => c.name === name);
      if (i < 0) {
        byTag.push(make(name, color, label));
        i = byTag.length - 1;
      }
      return i;
    };
    // In rank order, so that the legend lists the biggest tags first.
    const tags = [...snapshotTally.blocks.keys()].sort((a, b) => (a < 0) - (b < 0) || tagRank.get(a) - tagRank.get(b));
    for (const tag of tags) {
      const color = tagColor(tag);
      if (tag < 0) tagClass.set(tag, shared('untagged', '#7f7f7f', 'untagged object'));
      else if (color) tagClass.set(tag, shared('t' + tag, color, tagLabel(tag) + ' (tag ' + tag + ')'));
      else tagClass.set(tag, shared('other', OTHER_COLOR, 'other tags'));
    }
    const byKind = base.concat([make('head', '#1f4e79', 'object head'), make('tail', '#6fa8dc', 'object tail'),
      make('noscan', '#6aa84f', 'no-scan object'), make('final', '#e69138', 'object with finaliser')]);
    return { young, tag: byTag, kind: byKind, tagClass, youngId: young ? 1 : -1 };
  })();

  function rgbOf(hex) {
    return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  }

  /** The class of a block of span k (the first block of an object is its head). */
  function classOf(a, k, head) {
    if (a.flags[k] < 0) return 0;
    if (classes.young && a.age[k] === 0) return classes.youngId;
    const base = classes.young ? 2 : 1;
    if (map.colorBy === 'kind') {
      if (a.flags[k] & FLAG_FINALISER) return base + 3;
      if (a.flags[k] & FLAG_NO_SCAN) return base + 2;
      return head ? base : base + 1;
    }
    return classes.tagClass.get(a.tag[k]);
  }

  /** The span of area `a` holding `block` (binary search over the starts). */
  function spanAt(a, block) {
    let lo = 0;
    let hi = a.n - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (a.start[mid] <= block) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Blocks per cell: 1, or the smallest power of two keeping the map within max_cells. */
  function blocksPerCell(total) {
    let k = 1;
    while (Math.ceil(total / k) > data.map.max_cells) k *= 2;
    return k;
  }

  // Lays the areas out one under the other, each under a label line, `columns` cells per row.
  // Cells are cell_px square, or smaller when the window is too narrow for that.
  function layoutMap(areas) {
    const columns = data.map.columns;
    const total = areas.reduce((n, a) => n + a.pool, 0);
    const k = blocksPerCell(total);
    const room = window.innerWidth >= 1000 ? Math.floor(window.innerWidth * 0.45) - 24 : window.innerWidth - 60;
    const cellPx = Math.max(1, Math.min(data.map.cell_px, Math.floor(room / columns)));
    let y = 0;
    const placed = areas.map((a) => {
      const cells = Math.ceil(a.pool / k);
      const rows = Math.ceil(cells / columns);
      const entry = { labelY: y, top: y + LABEL_H, rows, cells };
      y += LABEL_H + rows * cellPx + AREA_GAP;
      return entry;
    });
    return { columns, blocksPerCell: k, cellPx, width: columns * cellPx, height: Math.max(y - AREA_GAP, 1), areas: placed };
  }

  // Draws the selected snapshot: every cell's class into an ImageData (a plain loop over pixels,
  // fast enough for 32 snapshots of a big heap), the area labels, and the legend with each
  // class' block count in this snapshot.
  function renderMap() {
    const section = document.getElementById('heapmap-section');
    if (data.snapshots.length === 0) {
      canvas.width = 420;
      canvas.height = 24;
      const ctx = canvas.getContext('2d');
      ctx.font = '13px Helvetica, Arial, sans-serif';
      ctx.fillStyle = '#222';
      ctx.fillText('No heap snapshot in this profile (call Profiler::take_snapshot()).', 0, 16);
      map.layout = null;
      return;
    }
    const areas = decode(map.index);
    const layout = layoutMap(areas);
    map.layout = layout;
    const list = map.colorBy === 'kind' ? classes.kind : classes.tag;
    const counts = new Array(list.length).fill(0);
    const k = layout.blocksPerCell;
    const px = layout.cellPx;
    canvas.width = layout.width;
    canvas.height = layout.height;
    canvas.style.width = layout.width + 'px';
    canvas.style.height = layout.height + 'px';
    section.style.width = layout.width + 22 + 'px';
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    map.cell = [];
    areas.forEach((a, ai) => {
      // Per block: its class, and whether it is an object's first block.
      const cls = new Uint8Array(a.pool);
      const head = new Uint8Array(a.pool);
      let used = 0;
      let young = 0;
      for (let s = 0; s < a.n; s++) {
        const end = Math.min(a.pool, a.start[s] + a.len[s]);
        for (let b = a.start[s]; b < end; b++) cls[b] = classOf(a, s, b === a.start[s]);
        if (a.flags[s] >= 0) {
          head[a.start[s]] = 1;
          used += a.len[s];
          if (a.age[s] === 0) young += a.len[s];
        }
      }
      for (let b = 0; b < a.pool; b++) counts[cls[b]]++;
      map.cell.push({ cls, head });
      const place = layout.areas[ai];
      const img = ctx.createImageData(layout.width, Math.max(1, place.rows * px));
      const tally = new Array(list.length).fill(0);
      for (let c = 0; c < place.cells; c++) {
        // The cell's colour: its most common class (ties to objects, then the lower class), with
        // the fraction of it in use as opacity (as heap-map.svg does); at one block per cell,
        // an object's tail is paler than its head so neighbours stay apart.
        const from = c * k;
        const to = Math.min(a.pool, from + k);
        let id = cls[from];
        let alpha = 1;
        if (k > 1) {
          tally.fill(0);
          for (let b = from; b < to; b++) tally[cls[b]]++;
          let best = 0;
          for (let i = 1; i < tally.length; i++) {
            if (tally[i] > tally[best] || (best === 0 && tally[i] === tally[0] && tally[i] > 0)) best = i;
          }
          id = best;
          const inUse = 1 - tally[0] / (to - from);
          if (id !== 0 && inUse < 1) alpha = 0.25 + 0.75 * inUse;
        } else if (id !== 0 && !head[from] && map.colorBy === 'tag') {
          alpha = 0.62;
        }
        const rgb = list[id].rgb;
        const r = Math.round(rgb[0] * alpha + 255 * (1 - alpha));
        const g = Math.round(rgb[1] * alpha + 255 * (1 - alpha));
        const bl = Math.round(rgb[2] * alpha + 255 * (1 - alpha));
        const x0 = (c % layout.columns) * px;
        const y0 = Math.floor(c / layout.columns) * px;
        for (let dy = 0; dy < px; dy++) {
          let p = ((y0 + dy) * layout.width + x0) * 4;
          for (let dx = 0; dx < px; dx++, p += 4) {
            img.data[p] = r;
            img.data[p + 1] = g;
            img.data[p + 2] = bl;
            img.data[p + 3] = 255;
          }
        }
      }
      ctx.putImageData(img, 0, place.top);
      const pct = (n) => Math.floor((n * 100) / Math.max(1, a.pool));
      let label = `area ${ai}: ${exact(a.pool)} blocks (${humanBytes(a.pool * data.block_bytes)}), ${pct(used)}% in use`;
      if (young) label += `: ${pct(used - young)}% survived the last collection, ${pct(young)}% allocated since`;
      ctx.font = '12px Helvetica, Arial, sans-serif';
      ctx.fillStyle = '#222';
      ctx.fillText(label, 0, place.labelY + 13);
    });
    renderLegend(list, counts, k);
  }

  function renderLegend(list, counts, k) {
    const items = list.map((c, i) => el('span', { class: 'item', 'data-class': c.name }, [
      el('span', { class: 'sw', style: 'background:' + c.color }),
      c.label + ' ',
      el('span', { class: 'n', text: exact(counts[i]) + ' blocks' }),
    ]));
    const note = k === 1
      ? `1 cell = 1 block (${data.block_bytes} B)` + (map.colorBy === 'tag' ? '; paler = object tail' : '')
      : `1 cell = ${k} blocks (${humanBytes(k * data.block_bytes)}); colour = most common in the cell, opacity = fraction in use`;
    items.push(el('span', { class: 'note', text: note }));
    document.getElementById('heapmap-legend').replaceChildren(...items);
  }

  /** "snapshot 3 of 9: right after collection 12, at 4.512 ms" (the final one says so). */
  function snapshotLabel(i) {
    const s = data.snapshots[i];
    const at = 'at ' + (s.time_ns / 1e6).toFixed(3) + ' ms';
    const when = s.after_collection
      ? `right after collection ${s.collection}`
      : `collection ${s.collection} + ${humanDuration(s.ns_since_collection)}`;
    return `${s.final ? 'final snapshot' : 'snapshot'} ${i + 1} of ${data.snapshots.length}: ${when}, ${at}`;
  }

  /** Shows snapshot i: the slider, its label, the map, and its marker on the timeline. */
  function selectSnapshot(i) {
    if (data.snapshots.length === 0) return;
    map.index = Math.max(0, Math.min(data.snapshots.length - 1, i));
    slider.value = String(map.index);
    const label = document.getElementById('snapshot-label');
    label.textContent = snapshotLabel(map.index);
    label.dataset.collection = String(data.snapshots[map.index].collection);
    renderMap();
    if (view.geometry) renderTimeline();
  }

  /** The snapshot whose collection is nearest to `collection` (the later one on a tie). */
  function selectSnapshotNear(collection) {
    let best = -1;
    data.snapshots.forEach((s, i) => {
      if (best < 0 || Math.abs(s.collection - collection) <= Math.abs(data.snapshots[best].collection - collection)) best = i;
    });
    if (best >= 0) selectSnapshot(best);
  }

  /** The cell under a client point, as {area, cell, firstBlock, lastBlock}, or null. */
  function cellAt(clientX, clientY) {
    const layout = map.layout;
    if (!layout) return null;
    const box = canvas.getBoundingClientRect();
    const x = ((clientX - box.left) * canvas.width) / box.width;
    const y = ((clientY - box.top) * canvas.height) / box.height;
    if (x < 0 || x >= layout.width) return null;
    for (let ai = 0; ai < layout.areas.length; ai++) {
      const place = layout.areas[ai];
      if (y < place.top || y >= place.top + place.rows * layout.cellPx) continue;
      const cell = Math.floor((y - place.top) / layout.cellPx) * layout.columns + Math.floor(x / layout.cellPx);
      if (cell >= place.cells) return null;
      const areas = decode(map.index);
      const first = cell * layout.blocksPerCell;
      const last = Math.min(areas[ai].pool, first + layout.blocksPerCell) - 1;
      return { area: ai, cell, firstBlock: first, lastBlock: last };
    }
    return null;
  }

  // Hovering a cell: the object there (the one holding the cell's first block, or else the first
  // object in the cell) with its tag, size, age, flags and address as area + offset; or the
  // free run.
  function onMapHover(ev) {
    const hit = cellAt(ev.clientX, ev.clientY);
    if (!hit) {
      hideTooltip();
      return;
    }
    const a = decode(map.index)[hit.area];
    let k = spanAt(a, hit.firstBlock);
    while (a.flags[k] < 0 && k + 1 < a.n && a.start[k + 1] <= hit.lastBlock) k++;
    const rows = [];
    const list = map.colorBy === 'kind' ? classes.kind : classes.tag;
    const bb = data.block_bytes;
    let head;
    if (a.flags[k] < 0) {
      head = 'free run';
      rows.push('size ' + bytesExact(a.len[k] * bb) + ' (' + exact(a.len[k]) + ' blocks)');
      rows.push('address ' + where(hit.area, a.start[k] * bb, a.start[k]));
    } else {
      const cls = list[classOf(a, k, true)];
      head = tagLabel(a.tag[k]) + (a.tag[k] >= 0 ? ' (tag ' + a.tag[k] + ')' : '');
      rows.push([cls.color, 'tag ' + tagLabel(a.tag[k])]);
      rows.push('size ' + bytesExact(a.len[k] * bb) + ' (' + exact(a.len[k]) + (a.len[k] === 1 ? ' block)' : ' blocks)'));
      rows.push('age ' + ageText(a.age[k]));
      const flags = [];
      if (a.flags[k] & FLAG_FINALISER) flags.push('finaliser');
      if (a.flags[k] & FLAG_NO_SCAN) flags.push('no-scan');
      if (a.flags[k] & FLAG_WEAK) flags.push('weak');
      if (flags.length) rows.push('flags ' + flags.join(', '));
      rows.push('address ' + where(hit.area, a.start[k] * bb, a.start[k]));
      if (a.site[k] >= 0) rows.push('call site #' + a.site[k]);
    }
    rows.push('area ' + hit.area + ', block ' + a.start[k]);
    if (map.layout.blocksPerCell > 1) {
      let inUse = 0;
      for (let b = hit.firstBlock; b <= hit.lastBlock; b++) inUse += map.cell[hit.area].cls[b] !== 0 ? 1 : 0;
      rows.push(`cell: blocks ${hit.firstBlock} to ${hit.lastBlock}, ${Math.round((inUse * 100) / (hit.lastBlock - hit.firstBlock + 1))}% in use`);
    }
    showTooltip(ev.clientX, ev.clientY, head, rows);
  }

  // ---- tables -------------------------------------------------------------------------------

  /** A table: a header row, then `rows` (arrays of cells: strings, or {text, cls, title}). */
  function fillTable(id, header, rows, empty) {
    const table = document.getElementById(id);
    const headRow = el('tr', {}, header.map((h) => el('th', { class: h.startsWith('~') ? 'text' : '', text: h.replace(/^~/, '') })));
    const body = el('tbody');
    for (const row of rows) {
      body.append(el('tr', {}, row.map((c) => {
        const cell = typeof c === 'object' ? c : { text: String(c) };
        const attrs = { text: cell.text };
        if (cell.cls) attrs.class = cell.cls;
        if (cell.title) attrs.title = cell.title;
        return el('td', attrs);
      })));
    }
    if (rows.length === 0) body.append(el('tr', {}, [el('td', { class: 'none', colspan: String(header.length), text: empty })]));
    table.replaceChildren(el('thead', {}, [headRow]), body);
  }

  const bytesCell = (n) => ({ text: humanBytes(n), title: exact(n) + ' B' });
  const textCell = (t) => ({ text: t, cls: 'text' });

  function renderTables() {
    // Tags, ranked as the text summary ranks them.
    const judged = data.tags.judged;
    document.getElementById('tags-note').textContent = judged
      ? 'Ranked by the bytes the last collection found live; "now" includes objects allocated since, garbage or not.'
      : 'Ranked by the bytes allocated now.';
    fillTable('tags-table',
      ['~tag', 'id', ...(judged ? ['at last GC'] : []), 'objs now', 'bytes now', 'peak bytes', 'allocs', 'allocated',
        'reallocs', 'frees', 'swept'],
      data.tags.rows.map((r) => [textCell(tagLabel(r[0])), r[0], ...(judged ? [bytesCell(r[1])] : []), exact(r[2]),
        bytesCell(r[3]), bytesCell(r[4]), exact(r[5]), bytesCell(r[6]), exact(r[7]), exact(r[8]), exact(r[9])]),
      'no tags');
    fillTable('growing-table', ['~tag', 'first', 'last', 'rose in'],
      data.growing_tags.map((g) => [textCell(tagLabel(g.tag)), bytesCell(g.first_bytes), bytesCell(g.last_bytes),
        `${g.rises} of ${g.collections - 1} steps`]),
      'none');
    document.getElementById('leaks-note').textContent =
      `Objects of growing tags, alive for at least ${data.summary.leak_min_age} collections.`;
    fillTable('leaks-table', ['~address', '~tag', 'bytes', 'age'],
      data.leak_suspects.map((l) => [textCell(where(l.area, l.offset, l.block)), textCell(tagLabel(l.tag)), bytesCell(l.bytes), l.age]),
      'none');
    const large = data.alarms.filter((a) => a.kind === 'large_alloc').length;
    document.getElementById('alarms-note').textContent =
      `${large} large allocation, ${data.alarms.length - large} low free run (in the order they fired).`;
    fillTable('alarms-table', ['~kind', 'after collection', 'blocks', 'threshold', '~tag', '~seen at'],
      data.alarms.map((a) => [textCell(a.kind === 'large_alloc' ? 'large allocation' : 'low free run'), a.collection,
        exact(a.n_blocks), exact(a.threshold_blocks), textCell(a.kind === 'large_alloc' ? tagLabel(a.tag) : ''),
        textCell(a.kind === 'large_alloc' ? 'allocation' : a.on_out_of_memory ? 'out of memory' : 'collection end')]),
      'none');
    fillTable('oom-table', ['after collection', 'bytes asked'],
      data.out_of_memory.map((e) => [e.collection, bytesCell(e.n_bytes)]), 'none');
    renderSites();
  }

  /** "uheap-scheme+0x1a2b" for an address inside a loaded module, else null. */
  function moduleOffset(address) {
    const a = BigInt(address);
    for (const m of data.call_sites.modules) {
      if (a >= BigInt(m.base) && a < BigInt(m.end)) {
        return m.path.split('/').pop() + '+0x' + (a - BigInt(m.base)).toString(16);
      }
    }
    return null;
  }

  // Call sites, most bytes first. A site's frames are addresses; when the data gives a site
  // "names" (symbolised frames), those are shown instead.
  function renderSites() {
    const sites = data.call_sites.sites;
    if (sites.length === 0) return;
    document.getElementById('sites-section').hidden = false;
    document.getElementById('sites-note').textContent =
      `Every ${data.call_sites.sample_every}th allocation's call stack, innermost frame first.`;
    const sorted = sites.slice().sort((a, b) => b.sampled_bytes - a.sampled_bytes);
    fillTable('sites-table', ['site', '~tag', 'samples', 'bytes', '~frames'],
      sorted.map((s) => {
        const named = Array.isArray(s.names) && s.names.length > 0;
        const frames = named ? s.names.join('\n') : s.frames.join(' ');
        const title = named ? s.frames.join(' ') : s.frames.map((f) => moduleOffset(f) || f).join('\n');
        return [s.id, textCell(tagLabel(s.tag)), exact(s.samples), bytesCell(s.sampled_bytes), { text: frames, cls: 'frames', title }];
      }),
      'none');
  }

  // ---- start --------------------------------------------------------------------------------

  function init() {
    renderSummary();
    renderTimelineLegend();
    renderTables();
    if (data.profile_version < 2) {
      for (const opt of xAxisSelect.options) opt.disabled = opt.value !== 'collection';
    }
    xAxisSelect.addEventListener('change', () => {
      view.axis = xAxisSelect.value;
      resetZoom();
    });
    document.getElementById('timeline-reset').addEventListener('click', resetZoom);
    // The slider: one position per snapshot of the series, then the final snapshot.
    slider.max = String(Math.max(0, data.snapshots.length - 1));
    slider.disabled = data.snapshots.length <= 1;
    slider.addEventListener('input', () => selectSnapshot(Number(slider.value)));
    colorBySelect.value = map.colorBy;
    colorBySelect.addEventListener('change', () => {
      map.colorBy = colorBySelect.value;
      renderMap();
    });
    canvas.addEventListener('mousemove', onMapHover);
    canvas.addEventListener('mouseleave', hideTooltip);
    const [lo, hi] = fullRange();
    view.lo = lo;
    view.hi = hi;
    if (data.snapshots.length) selectSnapshot(map.index);
    else renderMap();
    renderTimeline();
    // Redraw at the new width when the window is resized (once it settles).
    let pending = 0;
    window.addEventListener('resize', () => {
      clearTimeout(pending);
      pending = setTimeout(() => {
        renderMap();
        renderTimeline();
      }, 100);
    });
  }

  // What tests/browser/report_test.js reads and drives: the state, and where things are drawn
  // (client coordinates), so that it can point at a cell with real mouse events.
  window.uheapReport = {
    ready: false,
    data,
    snapshotIndex: () => map.index,
    timelineRange: () => [view.lo, view.hi],
    fullRange,
    selectSnapshot,
    layout: () => map.layout && {
      columns: map.layout.columns,
      blocksPerCell: map.layout.blocksPerCell,
      cellPx: map.layout.cellPx,
      areas: map.layout.areas.map((a) => ({ top: a.top, rows: a.rows, cells: a.cells })),
    },
    /** The client point at the centre of the cell showing `block` of `area`. */
    blockPoint(area, block) {
      const l = map.layout;
      const box = canvas.getBoundingClientRect();
      const cell = Math.floor(block / l.blocksPerCell);
      const x = (cell % l.columns) * l.cellPx + l.cellPx / 2;
      const y = l.areas[area].top + Math.floor(cell / l.columns) * l.cellPx + l.cellPx / 2;
      return { x: box.left + (x * box.width) / canvas.width, y: box.top + (y * box.height) / canvas.height };
    },
    /** The client rectangle of the timeline's plot area. */
    plotBox() {
      const g = view.geometry;
      const box = g.svg.getBoundingClientRect();
      return { left: box.left + g.left, right: box.left + g.left + g.plotW, top: box.top + g.top, bottom: box.top + g.bottom };
    },
  };
  init();
  window.uheapReport.ready = true;
  document.body.dataset.ready = 'true';
})();
