// Records the test cases of enketo/openrosa-xpath-evaluator's integration specs as data.
//
// Usage: TZ=America/Denver node tools/conformance/record_openrosa.js REPO_DIR > cases.json
//
// Each spec file is run with stand-ins for mocha (describe/it), chai, lodash and the suite's
// helpers: an assertion does not check anything, it records (kind, expression, expected,
// the /simple/xpath/to/node text if given, and whether it needs a DOM context node). The
// clock is fixed at FIXED_NOW so cases computed from `new Date()` are reproducible; the
// Python suite evaluates with the same moment. Nothing of the peer's code is copied: the
// output is the list of (expression, expected value) pairs its tests assert.
'use strict';
const fs = require('fs');
const path = require('path');
const Module = require('module');

const FIXED_NOW = Date.UTC(2026, 0, 1, 16, 30, 0); // 2026-01-01 09:30 in America/Denver
const RealDate = Date;
global.Date = class extends RealDate {
  constructor(...args) { if (args.length === 0) super(FIXED_NOW); else super(...args); }
  static now() { return FIXED_NOW; }
};

const repo = process.argv[2];
const files = process.argv.slice(3);
const cases = [];
let current = { file: '', title: [] };

const NODE = Symbol('node');
const fakeNode = (id) => ({ [NODE]: true, id, attributes: [], childNodes: [] });
const fakeDoc = (xml) => {
  const doc = fakeNode('#document');
  doc.xml = xml;
  doc.getElementById = (id) => fakeNode(id);
  doc.documentElement = fakeNode('#root');
  doc.xEval = (expr) => { record('xEval', [expr]); return { numberValue: NaN, stringValue: '', booleanValue: false, snapshotLength: 0, snapshotItem: () => null }; };
  doc.evaluate = doc.xEval;
  doc.createElement = () => fakeNode('#new');
  return doc;
};

function plain(v) {
  if (v && typeof v === 'object' && v[NODE]) return { node: v.id };
  if (typeof v === 'number' && Number.isNaN(v)) return { number: 'NaN' };
  if (v === Infinity) return { number: 'Infinity' };
  if (v === -Infinity) return { number: '-Infinity' };
  if (v instanceof RegExp) return { regexp: v.source };
  return v;
}

function record(kind, args) {
  cases.push({ file: current.file, title: current.title.join(' / '), kind, args: args.map(plain) });
}

const recorder = (kind) => (...args) => record(kind, args);
const helpers = {
  initDoc: (xml) => fakeDoc(xml),
  simpleValueIs: (text) => { record('simpleValueIs', [text]); return fakeDoc(''); },
  initBasicXmlDoc: () => fakeDoc(''),
  nsResolver: {}, filterAttributes: (x) => x, getAllNodes: () => [],
  getNextChildElementNode: () => fakeNode('#child'), setAttribute: () => {},
  assert: new Proxy(() => {}, { get: () => () => {} }),
};
for (const kind of ['assertTrue', 'assertFalse', 'assertBoolean', 'assertString', 'assertStringValue',
  'assertStringLength', 'assertMatch', 'assertNumber', 'assertNumberValue', 'assertNumberRounded',
  'assertThrow', 'assertNodes', 'assertUnorderedNodes']) helpers[kind] = recorder(kind);

const lodash = {
  forEach: (c, f) => { if (Array.isArray(c)) c.forEach((v, i) => f(v, i)); else Object.keys(c).forEach((k) => f(c[k], k)); },
  times: (n, f) => { for (let i = 0; i < n; i++) f(i); },
  uniq: (a) => [...new Set(a)],
};
const realLoad = Module._load;
Module._load = function (request, parent, isMain) {
  if (request.endsWith('/helpers')) return helpers;
  if (request === 'lodash') return lodash;
  if (request === 'chai') return { assert: helpers.assert };
  if (request.includes('src/openrosa-xpath') || request.endsWith('/dbg')) return () => ({});
  return realLoad(request, parent, isMain);
};

const pending = [];
global.describe = (title, body) => {
  current.title.push(title);
  try { body(); } catch (e) { record('error', [String(e)]); } finally { current.title.pop(); }
};
global.describe.skip = () => {};
global.it = (title, body) => { pending.push({ file: current.file, title: [...current.title, title], body }); };
global.it.skip = () => {};
global.xit = () => {};
global.beforeEach = () => {}; global.afterEach = () => {}; global.before = () => {}; global.after = () => {};
global.XPathResult = new Proxy({}, { get: (_, k) => k });
global.Node = new Proxy({}, { get: (_, k) => k });

for (const file of files) {
  current = { file, title: [] };
  pending.length = 0;
  require(path.resolve(repo, file));
  for (const test of pending) {
    current = { file: test.file, title: test.title };
    try { test.body(); } catch (e) { record('error', [String(e)]); }
  }
}
process.stdout.write(JSON.stringify(cases, null, 0).replace(/\},\{/g, '},\n{') + '\n');
