/**
 * The ThingsBoard importer (nodes/lib/importer/, bin/import.ts): each mapped node type with its settings and
 * with ThingsBoard's defaults for missing fields, relation labels to outputs, converters old and current,
 * integration and dashboard exports, bad exports refused by the real command with nothing written, and the
 * tutorial's four exports imported, deployed to a real Node-RED with Dashboard 2.0, and run end to end
 * against a real broker and the virtual thermostat.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect } from 'mqtt';
import semver from 'semver';
import { startThermostat, type Thermostat } from '../bin/thermostat';
import { type FlowNode, ImportError, type ImportInput, importThingsBoard } from '../nodes/lib/importer';
import { DASHBOARD_VERSION } from '../nodes/lib/importer/flow-dashboard';
import {
  deployable,
  importTutorial,
  notMappedLines,
  TUTORIAL_EXPORTS,
  turnKnobUntil,
  withClientDeviceName,
} from './imported-tutorial';
import { startTestBroker, type TestMqttBroker } from './mqtt-broker';
import { tbDownlinkEncoder, tbTutorialScript, tbUplinkDecoder } from './tb-fixtures';
import { delay, freePort, makeUserDir, NodeRedProcess, pkg, root, writeSettings } from './toolkit';

const FIXTURES = path.join(root, 'test', 'fixtures', 'importer');
const CLI = path.join(root, 'dist', 'bin', 'import.js');
const source = (file: string) => ({ name: file, text: fs.readFileSync(file, 'utf8') });
const fixture = (name: string) => source(path.join(FIXTURES, name));
const TUTORIAL = TUTORIAL_EXPORTS;

function run(input: ImportInput) {
  const { flow, report } = importThingsBoard(input);
  const named = (name: string) => {
    const node = flow.find((n) => n.name === name && n.z !== undefined);
    assert.ok(node, `a node named ${name} in ${JSON.stringify(flow.map((n) => n.name))}`);
    return node;
  };
  return { flow, report, named };
}

/** A node's settings without what the importer adds (id, tab, position, wires). */
function settings(node: FlowNode): Record<string, unknown> {
  const { id: _id, z: _z, x: _x, y: _y, wires: _w, ...rest } = node;
  return rest;
}

const targets = (flow: FlowNode[], node: FlowNode) =>
  (node.wires as string[][]).map((port) => port.map((id) => String(flow.find((n) => n.id === id)?.name)));

describe('importer: rule nodes with ThingsBoard defaults for missing fields', () => {
  const { flow, report, named } = run({ ruleChain: fixture('defaults-chain.json') });
  const store = flow.find((n) => n.type === 'rule-device-store')!.id;

  // Each mapped node's settings for a ThingsBoard node whose configuration leaves every optional field out.
  const golden: Record<string, { why: string; settings: Record<string, unknown> }> = {
    ts: {
      why: 'save time series: typeCast on, as ThingsBoard casts numeric strings',
      settings: { type: 'rule-save-timeseries', deviceStore: store, typeCast: true },
    },
    attrs: {
      why: 'save attributes: server scope, only-if-changed and attributes-updated off (primitive booleans)',
      settings: {
        type: 'rule-save-attributes',
        deviceStore: store,
        scope: 'server',
        onlyIfChanged: false,
        sendAttributesUpdated: false,
        typeCast: true,
      },
    },
    attributes: {
      why: 'originator attributes: empty lists, tellFailureIfAbsent off, to metadata, ThingsBoard number and pattern forms',
      settings: {
        type: 'rule-originator-attributes',
        deviceStore: store,
        clientAttributeNames: [],
        sharedAttributeNames: [],
        serverAttributeNames: [],
        latestTsKeyNames: [],
        fetchTo: 'metadata',
        getLatestValueWithTs: false,
        tellFailureIfAbsent: false,
        telemetryPrefix: '',
        doubleFormat: 'thingsboard',
        patternObjects: 'keep',
      },
    },
    transform: {
      why: 'script: JavaScript when scriptLang is absent, 500 ms',
      settings: {
        type: 'rule-script',
        language: 'javascript',
        script: 'return {msg: msg, metadata: metadata, msgType: msgType};',
        timeout: 500,
      },
    },
    'script filter': {
      why: 'script filter: JavaScript, 500 ms',
      settings: {
        type: 'rule-script-filter',
        language: 'javascript',
        script: 'return msg.temperature > 20;',
        timeout: 500,
      },
    },
    'script switch': {
      why: 'script switch: one output per relation the chain uses, in order, then Failure',
      settings: {
        type: 'rule-script-switch',
        language: 'javascript',
        script: "return ['hot'];",
        timeout: 500,
        relations: ['hot', 'cold'],
        outputs: 3,
      },
    },
  };
  for (const [name, { why, settings: expected }] of Object.entries(golden)) {
    it(why, () => assert.deepEqual(settings(named(name)), { ...expected, name }));
  }

  it('message type filter with no types: a core switch on msg.msgType that matches nothing (all False)', () => {
    const node = named('type filter');
    assert.equal(node.type, 'switch');
    assert.equal(node.property, 'msgType');
    assert.deepEqual(node.rules, [{ t: 'regex', v: '(?!)', vt: 'str', case: false }, { t: 'else' }]);
    assert.deepEqual(targets(flow, node), [['transform'], ['log']]);
  });

  it('originator type filter listing DEVICE: true for a message with an originator', () => {
    const node = named('device filter');
    assert.equal(node.propertyType, 'jsonata');
    assert.equal(node.property, '$type(originator) = "string"');
    assert.deepEqual(targets(flow, node), [['script filter'], []]);
  });

  it('log: a debug node with the script kept in its info', () => {
    const node = named('log');
    assert.equal(node.type, 'debug');
    assert.equal(node.complete, 'true');
    assert.match(String(node.info), /return 'seen';/);
    assert.deepEqual(node.wires, []);
  });

  it('script filter and script switch: relation labels onto their outputs, Failure last', () => {
    assert.deepEqual(targets(flow, named('script filter')), [['switch'], ['type filter'], []]);
    assert.deepEqual(targets(flow, named('script switch')), [['ts'], ['attrs'], ['log']]);
  });

  it('message type switch: relation labels onto its outputs', () => {
    const node = named('switch');
    assert.equal(node.type, 'rule-msg-type-switch');
    assert.deepEqual(targets(flow, node), [['attrs'], ['ts'], [], [], [], [], [], []]);
  });

  it('integration downlink: the one integration config node, mqtt out after it', () => {
    const node = named('downlink');
    const integrations = flow.filter((n) => n.type === 'rule-integration');
    assert.equal(integrations.length, 1);
    assert.equal(node.integration, integrations[0].id);
    assert.deepEqual(targets(flow, node), [['script switch', 'to the device'], []]);
    assert.match(String(integrations[0].decoder), /No uplink converter was imported/);
  });

  it('reports the nodes with no equivalent, each once, and the relations with no output', () => {
    assert.equal(report.notMapped.length, 3, report.notMapped.join('\n'));
    assert.match(
      report.notMapped[0],
      /"rpc call" \(TbSendRPCRequestNode, node 11\).*not wired: attributes -Success-> rpc call/,
    );
    assert.match(report.notMapped[1], /"custom" \(TbMyOwnNode, node 12\): no equivalent node/);
    assert.match(report.notMapped[2], /connection "transform" -Other-> "log": rule-script has no Other output/);
    const comments = flow.filter((n) => n.type === 'comment');
    assert.deepEqual(
      comments.map((n) => n.name),
      ['Not imported: rpc call', 'Not imported: custom'],
    );
    assert.match(String(comments[0].info), /"timeoutInSeconds": 60/);
  });

  it('puts everything on one tab named after the chain, config nodes once, positions on the grid', () => {
    const tabs = flow.filter((n) => n.type === 'tab');
    assert.deepEqual(
      tabs.map((t) => t.label),
      ['Defaults'],
    );
    for (const n of flow.filter((m) => m.z !== undefined)) {
      assert.equal(n.z, tabs[0].id);
      assert.equal(Number(n.x) % 20, 0);
      assert.equal(Number(n.y) % 20, 0);
    }
    assert.equal(flow.filter((n) => n.type === 'rule-device-store').length, 1);
    assert.equal(flow.filter((n) => n.type === 'mqtt-broker').length, 1);
    // ThingsBoard's left-to-right order is kept.
    assert.ok(Number(named('device filter').x) < Number(named('script filter').x));
    assert.ok(Number(named('script filter').x) < Number(named('ts').x));
    assert.equal(new Set(flow.map((n) => n.id)).size, flow.length, 'ids are unique');
  });

  it('gives the same flow for the same exports, and other ids for another chain', () => {
    assert.deepEqual(run({ ruleChain: fixture('defaults-chain.json') }).flow, flow);
    const ids = new Set(flow.map((n) => n.id));
    const other = run({ ruleChain: fixture('settings-chain.json') }).flow;
    assert.deepEqual(
      other.filter((n) => ids.has(n.id)),
      [],
    );
  });
});

describe('importer: rule node settings carried over', () => {
  const { report, named } = run({ ruleChain: fixture('settings-chain.json') });

  it('save attributes: scope, only-if-changed, attributes-updated; unsupported options noted', () => {
    const node = named('attrs');
    assert.equal(node.scope, 'shared');
    assert.equal(node.onlyIfChanged, true);
    assert.equal(node.sendAttributesUpdated, true);
    assert.ok(report.notes.some((n) => /"attrs".*notifyDevice is ignored/.test(n)));
    assert.ok(report.notes.some((n) => /"ts".*defaultTTL is ignored/.test(n)));
    assert.ok(report.notes.some((n) => /"ts".*useServerTs is ignored/.test(n)));
  });

  it('originator attributes: lists, fetchTo DATA (version 1) and fetchToData (version 0), both flags', () => {
    const v1 = named('attributes v1');
    assert.deepEqual(
      [v1.clientAttributeNames, v1.sharedAttributeNames, v1.serverAttributeNames, v1.latestTsKeyNames],
      [['a'], ['b'], ['c'], ['t']],
    );
    assert.equal(v1.fetchTo, 'data');
    assert.equal(v1.tellFailureIfAbsent, true);
    assert.equal(v1.getLatestValueWithTs, true);
    assert.equal(named('attributes v0').fetchTo, 'data');
  });

  it('TBEL scripts: the tbelScript, language tbel', () => {
    assert.deepEqual(
      [named('transform tbel').language, named('transform tbel').script],
      ['tbel', 'return {msg: msg, metadata: metadata, msgType: msgType};'],
    );
    assert.deepEqual(
      [named('filter tbel').language, named('filter tbel').script],
      ['tbel', 'return msg.temperature > 20;'],
    );
    assert.match(String(named('log tbel').info), /TBEL.*\n[\s\S]*return 'tbel ' \+ msgType;/);
  });

  it('message type filter: the listed types only; originator types without DEVICE: always False', () => {
    const filter = named('type filter');
    const re = new RegExp(String((filter.rules as Array<{ v: string }>)[0].v));
    assert.ok(re.test('POST_TELEMETRY_REQUEST') && re.test('ATTRIBUTES_UPDATED'));
    assert.ok(!re.test('POST_ATTRIBUTES_REQUEST') && !re.test('XPOST_TELEMETRY_REQUEST'));
    assert.equal(named('asset filter').property, 'false');
  });

  it('notes a chain without firstNodeIndex', () => {
    assert.ok(report.notes.some((n) => /no firstNodeIndex/.test(n)));
  });
});

describe('importer: converters, integration, dashboard', () => {
  it("the tutorial's converters (old format: decoder / encoder) as JavaScript, unchanged", () => {
    const { flow } = run({
      ruleChain: source(TUTORIAL.chain),
      converters: [source(TUTORIAL.uplink), source(TUTORIAL.downlink)],
    });
    const integration = flow.find((n) => n.type === 'rule-integration')!;
    assert.equal(integration.decoder, tbUplinkDecoder());
    assert.equal(integration.encoder, tbDownlinkEncoder());
    assert.deepEqual([integration.decoderLanguage, integration.encoderLanguage], ['javascript', 'javascript']);
  });

  it('current format: scriptLang picks tbelDecoder or encoder; version 2 noted', () => {
    const { flow } = run({
      ruleChain: fixture('defaults-chain.json'),
      converters: [fixture('uplink-tbel.json'), fixture('downlink-js-current.json')],
    });
    const integration = flow.find((n) => n.type === 'rule-integration')!;
    assert.equal(integration.decoderLanguage, 'tbel');
    assert.match(String(integration.decoder), /^var data = decodeToJson\(payload\);/);
    assert.equal(integration.encoderLanguage, 'javascript');
    assert.match(String(integration.encoder), /JSON.stringify\(msg\)/);
    const v2 = run({ ruleChain: fixture('defaults-chain.json'), converters: [fixture('uplink-v2.json')] });
    assert.ok(v2.report.notes.some((n) => /"Version 2 uplink": a version 2 converter/.test(n)));
  });

  it('refuses two uplink converters and an unknown converter version', () => {
    const chain = fixture('defaults-chain.json');
    assert.throws(
      () =>
        importThingsBoard({ ruleChain: chain, converters: [fixture('uplink-tbel.json'), fixture('uplink-v2.json')] }),
      (err: Error) =>
        err instanceof ImportError &&
        /uplink-v2.json: a second decoder \(the first is in .*uplink-tbel.json\)/.test(err.message),
    );
    assert.throws(
      () => importThingsBoard({ ruleChain: chain, converters: [fixture('converter-newer-version.json')] }),
      /converter-newer-version.json: converterVersion 7 is not one this importer knows \(1, 2\)/,
    );
  });

  it('integration export: broker, TLS, one mqtt in per topic filter, downlink topic pattern, metadata', () => {
    const { flow, report } = run({
      ruleChain: source(TUTORIAL.chain),
      converters: [source(TUTORIAL.uplink)],
      integration: fixture('mqtt-integration.json'),
    });
    const broker = flow.find((n) => n.type === 'mqtt-broker')!;
    assert.deepEqual([broker.broker, broker.port, broker.usetls], ['broker.example.com', 8883, true]);
    const inputs = flow.filter((n) => n.type === 'mqtt in');
    assert.deepEqual(
      inputs.map((n) => [n.topic, n.qos, n.datatype, n.broker]),
      [
        ['tb/a/+/temperature', '0', 'buffer', broker.id],
        ['tb/b/#', '1', 'buffer', broker.id],
      ],
    );
    const integration = flow.find((n) => n.type === 'rule-integration')!;
    assert.equal(integration.topicPattern, 'devices/${deviceName}/settings');
    assert.deepEqual(integration.metadata, [{ key: 'site', value: 'lab' }]);
    assert.ok(report.notes.some((n) => /needs credentials/.test(n)));
    assert.ok(!report.notes.some((n) => /assumed/.test(n)));
  });

  it('without an integration export: a local broker and the tutorial topic, reported as assumed', () => {
    const { flow, report } = run({ ruleChain: source(TUTORIAL.chain), converters: [source(TUTORIAL.uplink)] });
    assert.deepEqual(
      flow.filter((n) => n.type === 'mqtt in').map((n) => n.topic),
      ['devices/+/temperature/latest'],
    );
    assert.ok(report.notes.some((n) => /assumed a broker on localhost:1883 and the tutorial's topic/.test(n)));
  });

  it("the tutorial's dashboard: knob through an rpc request into the chain, gauge and chart fed by save time series", () => {
    const { flow, named } = run({ ruleChain: source(TUTORIAL.chain), dashboard: source(TUTORIAL.dashboard) });
    const knob = flow.find((n) => n.type === 'rule-knob')!;
    assert.deepEqual([knob.label, knob.min, knob.max], ['Temperature control', 0, 100]);
    const rpc = flow.find((n) => n.type === 'rule-rpc-request')!;
    assert.deepEqual(
      [rpc.device, rpc.method, rpc.getValueMethod, rpc.timeout],
      ['Thermostat-A', 'setValue', 'getValue', 500],
    );
    assert.deepEqual(targets(flow, knob), [[String(rpc.name)]]);
    assert.deepEqual(targets(flow, rpc)[0], ['Is Entity Group']);
    assert.deepEqual(targets(flow, named('Save Timeseries'))[0], ['temperature']);
    const isNumber = flow.find((n) => n.name === 'is a number')!;
    assert.deepEqual(
      targets(flow, isNumber)[0].sort(),
      ['New Horizontal bar - justGage', 'Temperature graph', 'as current value'].sort(),
    );
    const chart = flow.find((n) => n.type === 'ui-chart')!;
    assert.deepEqual([chart.removeOlder, chart.ymin, chart.ymax], ['60', '0', '100']);
    const hint = flow.find((n) => n.type === 'global-config')!;
    assert.deepEqual(hint.modules, { '@flowfuse/node-red-dashboard': DASHBOARD_VERSION });
    assert.ok(semver.satisfies(DASHBOARD_VERSION, pkg.devDependencies['@flowfuse/node-red-dashboard']));
  });

  it('reports widgets with no equivalent, and reads an entityName alias', () => {
    const { flow, report } = run({ ruleChain: source(TUTORIAL.chain), dashboard: fixture('dashboard-map.json') });
    assert.deepEqual(report.notMapped.slice(1), ['widget "Where" (openstreetmap): no Dashboard 2.0 equivalent here']);
    const rpc = flow.find((n) => n.type === 'rule-rpc-request')!;
    assert.deepEqual(
      [rpc.device, rpc.method, rpc.getValueMethod, rpc.timeout],
      ['Boiler-1', 'setTemp', 'getTemp', 800],
    );
  });
});

describe('rule-engine-import: the command', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rule-engine-import-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: dir });

  it('--help prints the usage and exits 0', () => {
    const r = cli('--help');
    assert.equal(r.status, 0);
    assert.match(r.stdout, /Usage: rule-engine-import <rule-chain.json> \[--converter <file>\.\.\.\]/);
  });

  it('writes the flow to standard output without -o, the report to standard error', () => {
    const r = cli(TUTORIAL.chain);
    assert.equal(r.status, 0, r.stderr);
    const flow = JSON.parse(r.stdout) as FlowNode[];
    assert.equal(flow[0].type, 'tab');
    assert.match(r.stderr, /^Not mapped \(1\):\n {2}- "Duplicate To Group Entities"/);
  });

  const bad: Array<[string, RegExp]> = [
    ['not-json.json', /not-json.json: not JSON \(/],
    [
      'wrong-shape.json',
      /wrong-shape.json: not a rule chain export \(expected an object with "ruleChain" and "metadata"\)/,
    ],
    [
      'newer-version.json',
      /newer-version.json: metadata.nodes\[0\].configurationVersion: org.thingsboard.rule.engine.metadata.TbGetAttributesNode version 9 is newer than this importer knows \(up to 1\)/,
    ],
    [
      'bad-field.json',
      /bad-field.json: metadata.nodes\[0\].configuration.tellFailureIfAbsent: expected true or false, got "yes"/,
    ],
    [
      'connection-out-of-range.json',
      /connection-out-of-range.json: metadata.connections\[0\].toIndex: 5 is not a node index \(0 to 1\)/,
    ],
    ['cycle.json', /cycle.json: metadata.connections form a cycle: "A" \(0\) -> "B" \(1\) -> "C" \(2\) -> "A" \(0\)/],
  ];
  for (const [file, message] of bad) {
    it(`${file}: a clear message, exit 1, no output file`, () => {
      const out = path.join(dir, 'flow.json');
      const r = cli(path.join(FIXTURES, file), '-o', out);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
      assert.deepEqual(fs.readdirSync(dir), [], 'nothing written, not even a temporary file');
    });
  }

  it('a bad converter: exit 1, and an existing output file is left as it was', () => {
    const out = path.join(dir, 'flow.json');
    fs.writeFileSync(out, 'before');
    const r = cli(TUTORIAL.chain, '--converter', path.join(FIXTURES, 'converter-newer-version.json'), '-o', out);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /converterVersion 7/);
    assert.equal(fs.readFileSync(out, 'utf8'), 'before');
    assert.deepEqual(fs.readdirSync(dir), ['flow.json']);
  });

  it('a missing file and bad arguments', () => {
    const missing = cli(path.join(dir, 'nope.json'));
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /nope.json: cannot read \(ENOENT\)/);
    assert.equal(cli().status, 2);
    assert.equal(cli(TUTORIAL.chain, '--frobnicate').status, 2);
  });
});

describe("rule-engine-import: the tutorial's four exports, deployed and run end to end", function () {
  this.timeout(180000);
  let dir: string;
  let broker: TestMqttBroker;
  let red: NodeRedProcess | undefined;
  let device: Thermostat | undefined;
  let flow: FlowNode[];
  let report: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rule-engine-import-e2e-'));
    ({ flow, report } = importTutorial(CLI, dir));
    broker = await startTestBroker('aedes');
  });

  after(async () => {
    await device?.stop();
    await red?.stop();
    await broker?.stop();
    if (red) fs.rmSync(red.userDir, { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reports exactly one node not mapped: the PE entity-group duplicate', () => {
    const lines = notMappedLines(report);
    assert.equal(lines.length, 1, report);
    assert.match(lines[0], /"Duplicate To Group Entities" \(TbDuplicateMsgToGroupNode, node 7\): entity groups/);
  });

  it("keeps the tutorial's script and converters unchanged", () => {
    assert.equal(flow.find((n) => n.type === 'rule-script')!.script, tbTutorialScript());
    const integration = flow.find((n) => n.type === 'rule-integration')!;
    assert.equal(integration.decoder, tbUplinkDecoder());
    assert.equal(integration.encoder, tbDownlinkEncoder());
  });

  it('deploys to Node-RED with the package and Dashboard 2.0: no unknown type, no error', async () => {
    const userDir = makeUserDir('rule-engine-import-red-');
    writeSettings(userDir, []);
    red = new NodeRedProcess(userDir, await freePort());
    await red.start();
    const from = red.output.length;
    await red.deploy(deployable(flow, broker.port));
    await red.waitForLog(/Started flows|Waiting for missing types/, 20000, from);
    await delay(500);
    const log = red.output.slice(from);
    assert.doesNotMatch(log, /Waiting for missing types/, log);
    assert.doesNotMatch(log, /\[error\]/, log);
  });

  it('runs as ThingsBoard does: the server attribute is absent, the set-point goes to devices/undefined/...', async () => {
    assert.ok(red, 'deployed');
    device = startThermostat({ broker: broker.url, interval: 100, log: () => {} });
    await device.ready();
    const watcher = connect(broker.url);
    const received: string[] = [];
    watcher.on('message', (topic, payload) => received.push(`${topic} ${payload}`));
    await watcher.subscribeAsync('devices/+/temperature/settings');
    try {
      await turnKnobUntil(red, () => received.length > 0);
      assert.equal(received[0], 'devices/undefined/temperature/settings 42');
    } finally {
      await watcher.endAsync();
    }
    assert.ok(
      report.includes(
        '"Getting Atributes to Metadata" reads server attributes (deviceName), but this chain saves attributes only in client scope',
      ),
    );
  });

  it('with the one change the report points at (deviceName as a client attribute), the thermostat gets the set-point', async () => {
    assert.ok(red && device, 'deployed and running');
    const from = red.output.length;
    await red.deploy(deployable(withClientDeviceName(flow), broker.port));
    await red.waitForLog(/Started flows/, 20000, from);
    await turnKnobUntil(red, () => device!.setPoint() === 42);
    assert.equal(device.setPoint(), 42);
  });
});
