#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// The interactive HTML report in a real browser. Makes a profile from a real run (the profiler's
// demo, or the example interpreter on a program), has uheap-report write the HTML, and drives
// Debian's chromium headless over the DevTools protocol (--remote-debugging-pipe: no npm
// package, no port) to check what the page shows against the profile: the summary's figures,
// the slider's positions, the tables; it moves the slider, hovers a heap-map cell and the
// timeline, zooms, and saves a screenshot that must not be blank. Any console error, uncaught
// exception or network request (other than file: and data:) fails the test.
//
//   node report_test.js --report UHEAP_REPORT --out DIR
//        (--demo UHEAP_PROFILE_DEMO [--arg A]... | --scheme UHEAP_SCHEME --program FILE.scm [--arg A]... [--heap SIZE]
//         | --profile PROFILE.json) [--call-sites synthetic] [--sites N]
// (--profile: a profile made elsewhere, e.g. to try the page on a big one; --call-sites synthetic:
// also check the call-site table on a copy of the profile given two made-up sites; --sites N:
// run the interpreter with --profile-sites N and check that the sites are shown by name.)
//
// Exit status: 0 passed, 1 failed, 77 skipped (no chromium; ctest's SKIP_RETURN_CODE).
// Runs on Node 18 (Debian 12's nodejs) and later; the browser is found as $UHEAP_CHROMIUM,
// or chromium / chromium-browser / google-chrome on the PATH.
'use strict';

const childProcess = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');

const SKIP = 77;
const COMMAND_TIMEOUT_MS = 60000; // one DevTools command, on a loaded 2-core machine
const READY_TIMEOUT_MS = 90000; // the page's load and first drawing
const WHOLE_TEST_MS = 240000; // below ctest's TIMEOUT, so that this reports what hung

// ---- command line and small helpers ------------------------------------------------------------

function parseArgs(argv) {
  const args = { arg: [], sites: null };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '');
    const value = argv[++i];
    if (value === undefined) throw new Error(`--${key} needs a value`);
    if (key === 'arg') args.arg.push(value);
    else args[key] = value;
  }
  for (const need of ['report', 'out']) if (!args[need]) throw new Error(`--${need} is required`);
  if (!args.demo && !(args.scheme && args.program) && !args.profile) {
    throw new Error('give --demo, --scheme and --program, or --profile');
  }
  return args;
}

/** The first executable of `names` on the PATH (or a path given as is), else null. */
function findExecutable(names) {
  for (const name of names) {
    const candidates = name.includes('/') ? [name] : (process.env.PATH || '').split(':').map((d) => path.join(d, name));
    for (const file of candidates) {
      try {
        fs.accessSync(file, fs.constants.X_OK);
        if (fs.statSync(file).isFile()) return file;
      } catch (e) {
        // not there
      }
    }
  }
  return null;
}

let failures = 0;
let running = null; // the browser, for the watchdog to stop

function check(ok, what, detail) {
  if (ok) {
    console.log(`ok   ${what}`);
  } else {
    failures++;
    console.log(`FAIL ${what}${detail === undefined ? '' : ': ' + detail}`);
  }
  return ok;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs a program to completion; throws with its output when it fails. */
function run(file, args) {
  const started = Date.now();
  const r = childProcess.spawnSync(file, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`${file}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`${path.basename(file)} ${args.join(' ')} exited with ${r.status}\n${r.stdout}\n${r.stderr}`);
  }
  console.log(`ran  ${path.basename(file)} ${args.map((a) => path.basename(a)).join(' ')} (${Date.now() - started} ms)`);
  return r.stdout;
}

// ---- the DevTools protocol over a pipe -----------------------------------------------------------

// Chromium reads commands from fd 3 and writes replies and events to fd 4, one JSON message per
// NUL-terminated record. Commands to a page carry the session id of Target.attachToTarget.
class DevTools {
  constructor(child) {
    this.child = child;
    this.nextId = 1;
    this.pending = new Map();
    this.listeners = [];
    this.buffer = Buffer.alloc(0);
    this.closed = false;
    child.stdio[4].on('data', (chunk) => this.receive(chunk));
    child.stdio[4].on('close', () => {
      this.closed = true;
      for (const { reject, method } of this.pending.values()) reject(new Error(`browser closed during ${method}`));
      this.pending.clear();
    });
  }

  receive(chunk) {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    let end;
    while ((end = this.buffer.indexOf(0)) >= 0) {
      const message = JSON.parse(this.buffer.subarray(0, end).toString('utf8'));
      this.buffer = this.buffer.subarray(end + 1);
      if (message.id !== undefined) {
        const waiter = this.pending.get(message.id);
        if (!waiter) continue;
        this.pending.delete(message.id);
        clearTimeout(waiter.timer);
        if (message.error) waiter.reject(new Error(`${waiter.method}: ${message.error.message}`));
        else waiter.resolve(message.result);
      } else {
        for (const listener of this.listeners) listener(message);
      }
    }
  }

  /** Sends a command and resolves with its result. */
  send(method, params = {}, sessionId = undefined) {
    if (this.closed) return Promise.reject(new Error(`browser closed before ${method}`));
    const id = this.nextId++;
    const message = { id, method, params };
    if (sessionId) message.sessionId = sessionId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: no reply in ${COMMAND_TIMEOUT_MS / 1000} s`));
      }, COMMAND_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer, method });
      this.child.stdio[3].write(JSON.stringify(message) + '\0');
    });
  }

  /** Calls `listener(message)` for every event. */
  on(listener) {
    this.listeners.push(listener);
  }
}

/** A page of the browser: commands go to its session. */
class Page {
  constructor(devtools, sessionId) {
    this.devtools = devtools;
    this.sessionId = sessionId;
  }

  send(method, params) {
    return this.devtools.send(method, params, this.sessionId);
  }

  /** Evaluates an expression in the page and returns its value (awaiting a promise). */
  async eval(expression) {
    const r = await this.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true });
    if (r.exceptionDetails) {
      const e = r.exceptionDetails;
      throw new Error(`in the page: ${(e.exception && e.exception.description) || e.text} (evaluating ${expression.slice(0, 80)})`);
    }
    return r.result.value;
  }

  /** Polls `expression` until it is truthy; returns its value. */
  async waitFor(expression, what, timeoutMs = 20000) {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const value = await this.eval(expression);
      if (value) return value;
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
      await sleep(50);
    }
  }

  mouse(type, x, y, extra = {}) {
    return this.send('Input.dispatchMouseEvent', { type, x, y, ...extra });
  }

  /** A left-button drag from (x0, y0) to (x1, y1) in a few steps, as a hand would do it. */
  async drag(x0, y0, x1, y1) {
    await this.mouse('mouseMoved', x0, y0);
    await this.mouse('mousePressed', x0, y0, { button: 'left', buttons: 1, clickCount: 1 });
    for (let step = 1; step <= 5; step++) {
      await this.mouse('mouseMoved', x0 + ((x1 - x0) * step) / 5, y0 + ((y1 - y0) * step) / 5, { button: 'left', buttons: 1 });
    }
    await this.mouse('mouseReleased', x1, y1, { button: 'left', buttons: 0, clickCount: 1 });
  }

  async click(x, y) {
    await this.mouse('mouseMoved', x, y);
    await this.mouse('mousePressed', x, y, { button: 'left', buttons: 1, clickCount: 1 });
    await this.mouse('mouseReleased', x, y, { button: 'left', buttons: 0, clickCount: 1 });
  }

  async key(key, code, keyCode) {
    await this.send('Input.dispatchKeyEvent', { type: 'rawKeyDown', key, code, windowsVirtualKeyCode: keyCode });
    await this.send('Input.dispatchKeyEvent', { type: 'keyUp', key, code, windowsVirtualKeyCode: keyCode });
  }
}

// Starts chromium headless with a fresh profile directory, attaches to a new page, and turns on
// the domains the test listens to. Flags: those that work as root in a container, and no
// background traffic of the browser's own (updates, sync, QUIC probes).
async function launch(chromium, userDataDir) {
  const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-extensions',
    '--disable-default-apps', '--disable-dev-shm-usage', '--hide-scrollbars', '--mute-audio',
    '--window-size=1200,900', `--user-data-dir=${userDataDir}`, '--remote-debugging-pipe', 'about:blank'];
  const child = childProcess.spawn(chromium, flags, { stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'] });
  let log = '';
  const keep = (chunk) => {
    log = (log + chunk.toString()).slice(-20000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const devtools = new DevTools(child);
  const version = await devtools.send('Browser.getVersion');
  console.log(`     ${version.product} (${path.basename(chromium)})`);
  const { targetId } = await devtools.send('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await devtools.send('Target.attachToTarget', { targetId, flatten: true });
  const page = new Page(devtools, sessionId);
  return { child, devtools, page, exited, log: () => log };
}

// ---- PNG: enough of a decoder to tell a picture from a blank page ------------------------------

// Decodes an 8-bit RGB or RGBA, non-interlaced PNG (what Page.captureScreenshot writes) into
// {width, height, channels, pixels}: the IDAT chunks inflated, each scanline's filter undone.
function decodePng(buffer) {
  const signature = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
  if (!buffer.subarray(0, 8).equals(signature)) throw new Error('not a PNG');
  let offset = 8;
  let header = null;
  const idat = [];
  while (offset < buffer.length) {
    const length = buffer.readUInt32BE(offset);
    const type = buffer.toString('latin1', offset + 4, offset + 8);
    const body = buffer.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      header = { width: body.readUInt32BE(0), height: body.readUInt32BE(4), depth: body[8], color: body[9], interlace: body[12] };
    } else if (type === 'IDAT') {
      idat.push(body);
    } else if (type === 'IEND') {
      break;
    }
    offset += 12 + length;
  }
  if (!header || header.depth !== 8 || (header.color !== 2 && header.color !== 6) || header.interlace !== 0) {
    throw new Error(`unsupported PNG ${JSON.stringify(header)}`);
  }
  const channels = header.color === 6 ? 4 : 3;
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = header.width * channels;
  const pixels = Buffer.alloc(stride * header.height);
  for (let y = 0; y < header.height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const out = y * stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? pixels[out + x - channels] : 0; // left
      const b = y > 0 ? pixels[out - stride + x] : 0; // up
      const c = x >= channels && y > 0 ? pixels[out - stride + x - channels] : 0; // up-left
      let predictor = 0;
      if (filter === 1) predictor = a;
      else if (filter === 2) predictor = b;
      else if (filter === 3) predictor = (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else if (filter !== 0) {
        throw new Error(`bad PNG filter ${filter} on line ${y}`);
      }
      pixels[out + x] = (line[x] + predictor) & 0xff;
    }
  }
  return { width: header.width, height: header.height, channels, pixels };
}

/** Share of pixels that are not (near) white, and the number of distinct colours. */
function pictureStats(png) {
  const colours = new Set();
  let inked = 0;
  const n = png.width * png.height;
  for (let i = 0; i < n; i++) {
    const p = i * png.channels;
    const r = png.pixels[p];
    const g = png.pixels[p + 1];
    const b = png.pixels[p + 2];
    colours.add((r << 16) | (g << 8) | b);
    if (r < 240 || g < 240 || b < 240) inked++;
  }
  return { inked: inked / n, colours: colours.size };
}

// ---- what the profile says, computed here independently of the page ----------------------------

/** Nearest-rank percentile of the timeline's pauses (as pause_ranks() in the report tool). */
function pauseRank(profile, pct) {
  const pauses = profile.timeline.map((s) => s.pause_ns).sort((a, b) => a - b);
  return pauses[Math.ceil((pct / 100) * pauses.length) - 1];
}

function tagName(profile, tag) {
  if (tag === null || tag === undefined) return 'untagged';
  const t = profile.tags.find((x) => x.tag === tag);
  return t && t.name !== null ? t.name : `tag ${tag}`;
}

/** The snapshots as the slider orders them: the series, then the final snapshot. */
function sliderSnapshots(profile) {
  return profile.snapshots.concat(profile.snapshot ? [profile.snapshot] : []);
}

/** Objects of a snapshot as {area, block, n, tag, age}: spans are [first, n, kind, flags, tag, age, site]. */
function objectsOf(snapshot) {
  const out = [];
  for (const area of snapshot.areas) {
    for (const s of area.spans) {
      if (s[2] === 'object') out.push({ area: area.index, block: s[0], n: s[1], tag: s[4], age: s[5] });
    }
  }
  return out;
}

// ---- call sites --------------------------------------------------------------------------------

// The call-site table and a sampled object's site, on a copy of the profile given two sites (the
// profiler's sampling is not in every run, and the frames need not be real for the page): one
// shown by its addresses, one, after its "names" are added to the page's data (the hook for
// symbolised frames), by its names.
async function checkCallSites(page, args, out, profile) {
  const withSites = JSON.parse(JSON.stringify(profile));
  withSites.call_sites = {
    sample_every: 1,
    modules: [{ path: '/opt/demo/uheap_profile_demo', base: '0x1000', end: '0x9000' }],
    sites: [
      { id: 0, tag: 8, samples: 3, sampled_bytes: 672, frames: ['0x1234', '0x2345'] },
      { id: 1, tag: 2, samples: 2, sampled_bytes: 64, frames: ['0x3456'] },
    ],
  };
  // The final snapshot's first two objects of tag 8 came from site 0.
  let marked = 0;
  let sampled = null;
  for (const area of withSites.snapshot.areas) {
    for (const span of area.spans) {
      if (span[2] === 'object' && span[4] === 8 && marked < 2) {
        span[6] = 0;
        marked++;
        sampled = sampled || { area: area.index, block: span[0] };
      }
    }
  }
  const profilePath = path.join(out, 'profile-sites.json');
  fs.writeFileSync(profilePath, JSON.stringify(withSites));
  const htmlPath = path.join(out, 'report-sites.html');
  run(args.report, [profilePath, '--out', path.join(out, 'sites'), '--html', htmlPath]);
  // The names hook: the data element edited as a later uheap-report would write it.
  const html = fs.readFileSync(htmlPath, 'utf8');
  const open = '<script type="application/json" id="report-data">';
  const from = html.indexOf(open) + open.length;
  const to = html.indexOf('</script>', from);
  const data = JSON.parse(html.slice(from, to));
  check(data.span_stride === 5 && data.call_sites.sites.length === 2, 'with call sites the spans carry a fifth field');
  data.call_sites.sites[1].names = ['make_string (builtins.cpp:120)'];
  const edited = JSON.stringify(data).replace(/</g, '\\u003c');
  fs.writeFileSync(htmlPath, html.slice(0, from) + edited + html.slice(to));

  const nav = await page.send('Page.navigate', { url: 'file://' + htmlPath.split(path.sep).map(encodeURIComponent).join('/') });
  if (nav.errorText) throw new Error(`cannot open ${htmlPath}: ${nav.errorText}`);
  await page.waitFor('window.uheapReport && window.uheapReport.ready === true && document.readyState === "complete" && ' +
    'window.uheapReport.data.title === "profile-sites.json"', 'the page with call sites', READY_TIMEOUT_MS);
  const sites = await page.eval(`({ shown: !document.getElementById('sites-section').hidden,
    rows: [...document.querySelectorAll('#sites-table tbody tr')].map((r) => ({
      cells: [...r.cells].map((c) => c.textContent), title: r.cells[4].title })) })`);
  check(sites.shown && sites.rows.length === 2, 'the call-site table is shown, a row per site', JSON.stringify(sites));
  const [first, second] = sites.rows;
  check(first && first.cells[0] === '0' && first.cells[1] === 'cache_entry' && first.cells[2] === '3' &&
    first.cells[4] === '0x1234 0x2345' && first.title.includes('uheap_profile_demo+0x234'),
  'a site is shown with its tag, samples and frames as addresses (module + offset on hover)', JSON.stringify(first));
  check(second && second.cells[4] === 'make_string (builtins.cpp:120)',
    'a site with names in the data is shown by its names', JSON.stringify(second));
  if (sampled) {
    await page.eval(`document.getElementById('heapmap').scrollIntoView({ block: 'center' })`);
    const k = (await page.eval('window.uheapReport.layout()')).blocksPerCell;
    if (sampled.block % k === 0) {
      const point = await page.eval(`window.uheapReport.blockPoint(${sampled.area}, ${sampled.block})`);
      await page.mouse('mouseMoved', point.x, point.y);
      const tip = await page.waitFor(`(() => { const t = document.getElementById('tooltip');
        return !t.hidden && t.textContent; })()`, 'the tooltip of a sampled object');
      check(tip.includes('call site #0'), `hovering a sampled object (block ${sampled.block}) names its call site`, tip);
    }
  }
}

// ---- the test ------------------------------------------------------------------------------------

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const chromium = findExecutable([process.env.UHEAP_CHROMIUM || '', 'chromium', 'chromium-browser', 'google-chrome']
    .filter(Boolean));
  if (!chromium) {
    console.log('skipped: no chromium (Debian: apt-get install chromium; or set UHEAP_CHROMIUM)');
    return SKIP;
  }
  const out = path.resolve(args.out);
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });

  // A profile from a real run, and the report made from it.
  const profilePath = path.join(out, 'profile.json');
  if (args.profile) {
    fs.copyFileSync(args.profile, profilePath);
  } else if (args.demo) {
    run(args.demo, [profilePath, ...args.arg]);
  } else {
    const sampling = args.sites ? ['--profile-sites', args.sites] : [];
    run(args.scheme, ['--heap', args.heap || '1M', ...sampling, '--profile', profilePath, args.program, ...args.arg]);
  }
  const htmlPath = path.join(out, 'report.html');
  const stdout = run(args.report, [profilePath, '--out', out, '--html', htmlPath]);
  check(stdout.includes(`wrote ${htmlPath}`), 'uheap-report says it wrote the HTML');
  const profile = JSON.parse(fs.readFileSync(profilePath, 'utf8'));
  const html = fs.readFileSync(htmlPath, 'utf8');
  console.log(`     profile: ${profile.collections} collections, ${profile.timeline.length} samples, ` +
    `${profile.snapshots.length} snapshots in the series, ${profile.tags.length} tags; report.html ${html.length} bytes`);
  const external = html.match(/(?:src|href)\s*=\s*["']?\s*(?:https?:)?\/\/[^"'\s>]*/gi);
  check(external === null, 'no src or href in the file points at the network', external && external.join(', '));

  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'uheap-chromium-'));
  const browser = await launch(chromium, userDataDir);
  running = browser.child;
  const { page, devtools } = browser;
  try {
    // Everything the page reports that a user would see as an error, and every request.
    const problems = [];
    const requests = [];
    devtools.on((m) => {
      if (m.sessionId !== page.sessionId) return;
      if (m.method === 'Runtime.exceptionThrown') {
        const d = m.params.exceptionDetails;
        problems.push(`exception: ${(d.exception && d.exception.description) || d.text}`);
      } else if (m.method === 'Runtime.consoleAPICalled' && (m.params.type === 'error' || m.params.type === 'assert')) {
        problems.push(`console.${m.params.type}: ${m.params.args.map((a) => a.value || a.description).join(' ')}`);
      } else if (m.method === 'Log.entryAdded' && m.params.entry.level === 'error') {
        problems.push(`log: ${m.params.entry.text} ${m.params.entry.url || ''}`);
      } else if (m.method === 'Network.requestWillBeSent') {
        requests.push(m.params.request.url);
      }
    });
    await page.send('Runtime.enable');
    await page.send('Log.enable');
    await page.send('Network.enable');
    await page.send('Page.enable');
    await page.send('Emulation.setDeviceMetricsOverride', { width: 1200, height: 900, deviceScaleFactor: 1, mobile: false });

    const url = 'file://' + htmlPath.split(path.sep).map(encodeURIComponent).join('/');
    const started = Date.now();
    const nav = await page.send('Page.navigate', { url });
    if (nav.errorText) throw new Error(`cannot open ${url}: ${nav.errorText}`);
    await page.waitFor('window.uheapReport && window.uheapReport.ready === true && document.readyState === "complete"',
      'the page to draw itself', READY_TIMEOUT_MS);
    console.log(`     loaded and drawn in ${Date.now() - started} ms`);

    // The elements the report promises.
    const present = await page.eval(`(() => {
      const ids = ['summary', 'timeline', 'heapmap', 'snapshot-slider', 'snapshot-label', 'tooltip', 'tags-table',
                   'growing-table', 'leaks-table', 'alarms-table', 'oom-table', 'timeline-reset'];
      return ids.filter((id) => !document.getElementById(id));
    })()`);
    check(present.length === 0, 'every element is there', 'missing #' + present.join(', #'));
    const drawn = await page.eval(`({
      svg: document.querySelectorAll('#timeline svg polyline').length,
      oom: document.querySelectorAll('#markers line.oom').length,
      alarms: document.querySelectorAll('#markers line.alarm').length,
      canvas: [document.getElementById('heapmap').width, document.getElementById('heapmap').height],
      scripts: [...document.querySelectorAll('script[src], link[href], img[src], iframe, object, embed')]
        .map((e) => e.getAttribute('src') || e.getAttribute('href')),
    })`);
    check(drawn.svg >= 5, 'the timeline has its series drawn', `${drawn.svg} polylines`);
    check(drawn.oom === profile.out_of_memory.length && drawn.alarms === profile.alarms.length,
      `the timeline marks ${profile.out_of_memory.length} out-of-memory events and ${profile.alarms.length} alarms`,
      `${drawn.oom} and ${drawn.alarms}`);
    check(drawn.canvas[0] > 0 && drawn.canvas[1] > 0, 'the heap map canvas is drawn', drawn.canvas.join('x'));
    const remote = drawn.scripts.filter((u) => !/^(data:|#|$)/.test(u || ''));
    check(remote.length === 0, 'nothing loaded by src/href but data: URLs', remote.join(', '));

    // The summary's figures against the profile.
    const summary = await page.eval(`Object.fromEntries([...document.querySelectorAll('#summary .card')].map(
      (c) => [c.id, { value: c.dataset.value, text: c.querySelector('.v').textContent }]))`);
    const figure = (id) => summary['summary-' + id] || { value: undefined, text: undefined };
    check(figure('collections').value === String(profile.collections) && figure('collections').text === String(profile.collections),
      `collections: ${profile.collections}`, JSON.stringify(figure('collections')));
    check(figure('heap').value === String(profile.heap.total_bytes), `heap size: ${profile.heap.total_bytes} B`,
      JSON.stringify(figure('heap')));
    check(figure('used').value === String(profile.heap.used_bytes), `used: ${profile.heap.used_bytes} B`,
      JSON.stringify(figure('used')));
    check(figure('objects').value === String(profile.heap.objects), `objects: ${profile.heap.objects}`,
      JSON.stringify(figure('objects')));
    check(Number(figure('fragmentation').value) === profile.heap.fragmentation,
      `fragmentation: ${profile.heap.fragmentation}`, JSON.stringify(figure('fragmentation')));
    for (const [id, pct] of [['pause-p50', 50], ['pause-p99', 99], ['pause-max', 100]]) {
      const want = pauseRank(profile, pct);
      check(figure(id).value === String(want), `${id}: ${want} ns`, JSON.stringify(figure(id)));
    }
    check(figure('alarms').value === String(profile.alarms.length), `alarms: ${profile.alarms.length}`);

    // The tables: every tag, the leak suspects, the alarms.
    const tables = await page.eval(`(() => {
      const rows = (id) => [...document.querySelectorAll('#' + id + ' tbody tr')]
        .filter((r) => !r.querySelector('td.none')).map((r) => [...r.cells].map((c) => c.textContent));
      return { tags: rows('tags-table'), leaks: rows('leaks-table'), alarms: rows('alarms-table'),
               oom: rows('oom-table'), growing: rows('growing-table'), sites: rows('sites-table'),
               sitesShown: !document.getElementById('sites-section').hidden };
    })()`);
    check(tables.tags.length === profile.tags.length, `the tags table has a row per tag (${profile.tags.length})`,
      tables.tags.length);
    const lastLive = new Map((profile.timeline.length ? profile.timeline[profile.timeline.length - 1].live_by_tag : [])
      .map(([tag, bytes]) => [tag, bytes]));
    const topTag = profile.tags.slice().sort((a, b) => (lastLive.get(b.tag) || 0) - (lastLive.get(a.tag) || 0))[0];
    if (topTag) {
      check(tables.tags.length > 0 && tables.tags[0][0] === tagName(profile, topTag.tag),
        `the tags table starts with "${tagName(profile, topTag.tag)}", the most bytes live at the last collection`,
        tables.tags[0] && tables.tags[0][0]);
    }
    const shownTags = new Set(tables.tags.map((r) => r[0]));
    const missing = profile.tags.map((t) => tagName(profile, t.tag)).filter((n) => !shownTags.has(n));
    check(missing.length === 0, 'every tag name of the profile is in the tags table', missing.join(', '));
    check(tables.leaks.length === profile.leak_suspects.length, `leak suspects: ${profile.leak_suspects.length} rows`,
      tables.leaks.length);
    check(tables.alarms.length === profile.alarms.length, `alarms: ${profile.alarms.length} rows`, tables.alarms.length);
    check(tables.oom.length === profile.out_of_memory.length, `out of memory: ${profile.out_of_memory.length} rows`,
      tables.oom.length);
    check(tables.growing.length === profile.growing_tags.length, `growing tags: ${profile.growing_tags.length} rows`,
      tables.growing.length);
    const sites = (profile.call_sites && profile.call_sites.sites) || [];
    check(tables.sitesShown === sites.length > 0 && tables.sites.length === sites.length,
      `call sites: ${sites.length} rows, shown only when there are some`, `${tables.sitesShown} ${tables.sites.length}`);
    if (args.sites) {
      // Sampled in a real run: uheap-report named the frames with addr2line (the interpreter's
      // functions are in namespace scheme), and the page shows those names, not addresses.
      const named = tables.sites.filter((r) => r.some((cell) => cell.includes('scheme::')));
      check(sites.length > 0 && named.length === tables.sites.length,
        `every call site is shown by its symbolised frames (${named.length} of ${tables.sites.length})`,
        JSON.stringify(tables.sites.slice(0, 2)));
    }
    if (profile.leak_suspects.length > 0) {
      const l = profile.leak_suspects[0];
      const text = `area ${l.area} +0x${l.offset.toString(16)} (block ${l.block})`;
      check(tables.leaks[0][0] === text && tables.leaks[0][1] === tagName(profile, l.tag),
        `the first leak suspect is ${tagName(profile, l.tag)} at ${text}`, tables.leaks[0].join(' | '));
    }

    // The slider: a position per snapshot of the series, then the final snapshot (shown first).
    const snaps = sliderSnapshots(profile);
    const slider = await page.eval(`(() => { const s = document.getElementById('snapshot-slider');
      return { max: Number(s.max), value: Number(s.value), disabled: s.disabled,
               label: document.getElementById('snapshot-label').textContent }; })()`);
    check(slider.max + 1 === snaps.length, `the slider has ${snaps.length} positions (${profile.snapshots.length} in the ` +
      'series + the final snapshot)', slider.max + 1);
    check(slider.value === snaps.length - 1 && slider.label.startsWith('final snapshot') &&
      slider.label.includes(`collection ${profile.snapshot.collection}`),
      'the final snapshot is shown first', JSON.stringify(slider));
    const labelAt = async () => page.eval(`({ text: document.getElementById('snapshot-label').textContent,
      collection: Number(document.getElementById('snapshot-label').dataset.collection),
      index: window.uheapReport.snapshotIndex() })`);
    if (snaps.length > 1) {
      // A click at the left end of the track moves it to the first snapshot; a drag to the
      // middle moves it there; the End key back to the final one. Each must relabel and redraw.
      const box = await page.eval(`(() => { const s = document.getElementById('snapshot-slider');
        s.scrollIntoView({ block: 'center' }); const r = s.getBoundingClientRect();
        return { left: r.left, right: r.right, y: r.top + r.height / 2 }; })()`);
      const pixelsBefore = await page.eval(`(() => { const c = document.getElementById('heapmap');
        return c.toDataURL(); })()`);
      await page.click(box.left + 2, box.y);
      let now = await labelAt();
      check(now.index === 0 && now.collection === snaps[0].collection && now.text.includes(`collection ${snaps[0].collection}`),
        `a click at the slider's left end shows the first snapshot (collection ${snaps[0].collection})`, JSON.stringify(now));
      const pixelsAfter = await page.eval(`document.getElementById('heapmap').toDataURL()`);
      check(pixelsAfter !== pixelsBefore, 'the heap map is redrawn for it');
      await page.drag(box.left + 2, box.y, box.left + (box.right - box.left) / 2, box.y);
      now = await labelAt();
      const mid = snaps[now.index] || {};
      check(now.index > 0 && now.index < snaps.length - 1 && now.collection === mid.collection &&
        now.text.includes(`collection ${mid.collection}`),
      `dragging the slider to the middle shows snapshot ${now.index + 1} (collection ${mid.collection})`, JSON.stringify(now));
      // How long a move takes to redraw (for the log: a big profile must stay usable).
      const redraw = await page.eval(`(() => { const t = performance.now(); window.uheapReport.selectSnapshot(1);
        const once = performance.now() - t; window.uheapReport.selectSnapshot(0); return once; })()`);
      console.log(`     a slider move redraws in ${redraw.toFixed(0)} ms`);
      await page.key('End', 'End', 35);
      now = await labelAt();
      check(now.index === snaps.length - 1 && now.text.startsWith('final snapshot'), 'End goes back to the final snapshot',
        JSON.stringify(now));
    } else {
      check(slider.disabled, 'with one snapshot, the slider has nothing to move');
    }

    // Hover a heap-map cell holding an object: the tooltip names its tag, size, age and address
    // (taken here from the profile, not from the page). One object that survived a collection
    // and, if there is one, one allocated since the last (age 0: "not yet judged").
    const layout = await page.eval(`(() => { document.getElementById('heapmap').scrollIntoView({ block: 'center' });
      return window.uheapReport.layout(); })()`);
    const shown = snaps[snaps.length - 1];
    const objects = objectsOf(shown).filter((o) => o.tag !== null && o.age !== null && o.block % layout.blocksPerCell === 0);
    const judged = objects.filter((o) => o.age > 0);
    const picks = [judged[Math.floor(judged.length / 2)], objects.find((o) => o.age === 0)].filter(Boolean);
    check(picks.length > 0, 'the final snapshot has an object to hover');
    for (const o of picks) {
      const point = await page.eval(`window.uheapReport.blockPoint(${o.area}, ${o.block})`);
      await page.mouse('mouseMoved', point.x, point.y);
      const tip = await page.waitFor(`(() => { const t = document.getElementById('tooltip');
        return !t.hidden && t.textContent; })()`, 'the tooltip');
      const name = tagName(profile, o.tag);
      const age = o.age === 0 ? 'age 0: allocated since the last collection, not yet judged'
        : `age ${o.age} collection${o.age === 1 ? '' : 's'} survived`;
      const bytes = o.n * profile.block_bytes;
      const address = `area ${o.area} +0x${(o.block * profile.block_bytes).toString(16)} (block ${o.block})`;
      check(tip.includes(`tag ${name}`) && tip.includes(age) && tip.includes(address) &&
        tip.includes(bytes.toLocaleString('en-US')),
      `hovering block ${o.block} shows ${name}, ${bytes} B, ${age.split(':')[0]}, ${address}`, tip);
    }

    // The timeline: hover shows the nearest collection's figures; a drag zooms in; reset; the
    // wheel zooms around the pointer.
    if (profile.timeline.length > 2) {
      const plot = await page.eval(`(() => { document.getElementById('timeline-section').scrollIntoView({ block: 'start' });
        return window.uheapReport.plotBox(); })()`);
      const full = await page.eval('window.uheapReport.timelineRange()');
      const y = plot.top + 40;
      const last = profile.timeline[profile.timeline.length - 1];
      await page.mouse('mouseMoved', plot.right - 1, y);
      let tip = await page.waitFor(`(() => { const t = document.getElementById('tooltip');
        return !t.hidden && t.textContent; })()`, 'the timeline tooltip');
      check(tip.startsWith(`collection ${last.collection}`) && tip.includes('used ') &&
        tip.includes(last.used_bytes.toLocaleString('en-US') + ' B') && tip.includes(`fragmentation ${last.fragmentation.toFixed(4)}`),
      `hovering the right end of the timeline shows collection ${last.collection} with its used bytes`, tip);
      const width = plot.right - plot.left;
      await page.drag(plot.left + width * 0.25, y, plot.left + width * 0.6, y);
      const zoomed = await page.eval('window.uheapReport.timelineRange()');
      check(zoomed[0] > full[0] && zoomed[1] < full[1] && zoomed[1] - zoomed[0] < (full[1] - full[0]) * 0.6,
        `dragging across the timeline zooms in (${full.join('..')} -> ${zoomed.map((v) => v.toFixed(1)).join('..')})`);
      const rangeText = await page.eval(`document.getElementById('timeline-range').textContent`);
      check(rangeText.startsWith('showing '), 'the range label says what is shown', rangeText);
      await page.mouse('mouseMoved', plot.left + width / 2, y);
      tip = await page.waitFor(`(() => { const t = document.getElementById('tooltip');
        return !t.hidden && t.textContent; })()`, 'the tooltip in the zoomed timeline');
      const hovered = Number((tip.match(/^collection (\d+)/) || [])[1]);
      check(hovered >= Math.floor(zoomed[0]) && hovered <= Math.ceil(zoomed[1]),
        `hovering the zoomed timeline shows a collection inside it (${hovered})`, tip.slice(0, 60));
      const reset = await page.eval(`(() => { const b = document.getElementById('timeline-reset').getBoundingClientRect();
        return { x: b.left + b.width / 2, y: b.top + b.height / 2 }; })()`);
      await page.click(reset.x, reset.y);
      const again = await page.eval('window.uheapReport.timelineRange()');
      check(again[0] === full[0] && again[1] === full[1], 'the reset button shows the whole run again', again.join('..'));
      await page.send('Input.dispatchMouseEvent', { type: 'mouseWheel', x: plot.left + width / 2, y, deltaX: 0, deltaY: -120 });
      const wheeled = await page.waitFor(`(() => { const r = window.uheapReport.timelineRange();
        return r[1] - r[0] < ${full[1] - full[0]} && r; })()`, 'the wheel to zoom');
      check(wheeled[1] - wheeled[0] < full[1] - full[0], 'the wheel zooms in', wheeled.join('..'));
      await page.click(reset.x, reset.y);
    }

    // The other x axes (time, bytes allocated) and colouring the map by kind: each redraws with
    // its own range and legend.
    if (profile.version >= 2 && profile.timeline.length > 1) {
      const first = profile.timeline[0];
      const last = profile.timeline[profile.timeline.length - 1];
      for (const [axis, lo, hi] of [['time', first.time_ns / 1e6, last.time_ns / 1e6],
        ['allocated', first.bytes_allocated, last.bytes_allocated], ['collection', first.collection, last.collection]]) {
        const shown = await page.eval(`(() => { const s = document.getElementById('x-axis'); s.value = '${axis}';
          s.dispatchEvent(new Event('change')); return { range: window.uheapReport.timelineRange(),
          lines: document.querySelectorAll('#timeline svg polyline').length }; })()`);
        check(Math.abs(shown.range[0] - lo) < 1e-9 && Math.abs(shown.range[1] - hi) < 1e-9 && shown.lines >= 5,
          `the x axis by ${axis} spans ${lo} to ${hi}`, JSON.stringify(shown));
      }
    }
    const kinds = await page.eval(`(() => { const s = document.getElementById('color-by'); s.value = 'kind';
      s.dispatchEvent(new Event('change')); const text = document.getElementById('heapmap-legend').textContent;
      s.value = 'tag'; s.dispatchEvent(new Event('change')); return text; })()`);
    check(kinds.includes('object head') && kinds.includes('object tail'), 'the map can be coloured by kind', kinds);

    // The screenshot: the top of the page, the heap map showing a snapshot from the middle of
    // the series, with an object hovered.
    await page.eval('window.scrollTo(0, 0)');
    const middle = snaps.length > 2 ? Math.floor(snaps.length / 2) : snaps.length - 1;
    await page.eval(`window.uheapReport.selectSnapshot(${middle})`);
    const k = (await page.eval('window.uheapReport.layout()')).blocksPerCell;
    const candidates = objectsOf(snaps[middle]).filter((o) => o.area === 0 && o.block % k === 0);
    const target = candidates.find((o) => o.block >= 0.4 * snaps[middle].areas[0].pool_blocks) || candidates[0];
    if (target) {
      const point = await page.eval(`window.uheapReport.blockPoint(0, ${target.block})`);
      await page.mouse('mouseMoved', point.x, point.y);
    }
    await sleep(100);
    const shot = await page.send('Page.captureScreenshot', { format: 'png' });
    const png = Buffer.from(shot.data, 'base64');
    const shotPath = path.join(out, 'screenshot.png');
    fs.writeFileSync(shotPath, png);
    const picture = pictureStats(decodePng(png));
    check(picture.inked > 0.01 && picture.colours >= 16,
      `the screenshot (${shotPath}, ${png.length} bytes) is not blank: ${(picture.inked * 100).toFixed(1)}% inked, ` +
      `${picture.colours} colours`);

    if (args['call-sites'] === 'synthetic') await checkCallSites(page, args, out, profile);

    // Nothing went wrong on the way, and nothing was fetched.
    await sleep(200);
    check(problems.length === 0, 'no console error or exception', problems.join('\n'));
    const fetched = requests.filter((u) => !/^(file|data|about):/.test(u));
    check(fetched.length === 0, `no network request (${requests.length} requests, all file: or data:)`, fetched.join(', '));
  } finally {
    const closing = Date.now();
    await devtools.send('Browser.close').catch(() => {});
    let timer;
    const closed = await Promise.race([browser.exited, new Promise((resolve) => (timer = setTimeout(resolve, 10000, null)))]);
    clearTimeout(timer); // a pending timer would keep Node running for its full 10 s
    if (closed === null) browser.child.kill('SIGKILL');
    console.log(`     browser closed in ${Date.now() - closing} ms${closed === null ? ' (killed)' : ''}`);
    fs.rmSync(userDataDir, { recursive: true, force: true });
    if (failures > 0) {
      // Without its D-Bus (a container), chromium complains at length; that is never the cause.
      const lines = browser.log().split('\n').filter((l) => l && !/dbus/i.test(l));
      console.log('--- chromium output (last lines) ---\n' + lines.slice(-30).join('\n'));
    }
  }
  console.log(failures === 0 ? 'passed' : `${failures} check(s) failed`);
  return failures === 0 ? 0 : 1;
}

const watchdog = setTimeout(() => {
  console.log(`FAIL the test did not finish in ${WHOLE_TEST_MS / 1000} s`);
  if (running) running.kill('SIGKILL');
  process.exit(1);
}, WHOLE_TEST_MS);
main().then(
  (status) => {
    clearTimeout(watchdog);
    process.exitCode = status;
  },
  (error) => {
    clearTimeout(watchdog);
    console.log(`FAIL ${error.stack || error}`);
    process.exitCode = 1;
  });
