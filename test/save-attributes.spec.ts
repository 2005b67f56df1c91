import assert from 'node:assert/strict';
import {
  type AnyMsg,
  assertOriginatorMissing,
  collect,
  deviceStoreOf,
  flowAround,
  helper,
  inTab,
  nextMessage,
  sendAndWait,
  statusCalls,
  waitFor,
} from './support';

const deviceStoreNode = require('../nodes/device-store/device-store');
const saveAttributesNode = require('../nodes/save-attributes/save-attributes');
const originatorAttributesNode = require('../nodes/originator-attributes/originator-attributes');
const nodes = [deviceStoreNode, saveAttributesNode, originatorAttributesNode];

function flow(sa: Record<string, unknown> = {}) {
  return flowAround({ id: 'sa', type: 'rule-save-attributes', ...sa }, { deviceStore: {} });
}

const store = () => deviceStoreOf();

const input = (extra: Partial<AnyMsg> = {}): AnyMsg => ({
  payload: { deviceName: 'Thermostat-A', firmware: { v: 2 } },
  metadata: { deviceType: 'thermostat', ts: '1700000000000' },
  msgType: 'POST_ATTRIBUTES_REQUEST',
  originator: 'Thermostat-A',
  ...extra,
});

async function attr(scope: 'client' | 'shared' | 'server', key: string, device = 'Thermostat-A') {
  return (await store().getAttributes(device, scope, [key])).get(key);
}

/** Where `deviceName` of Thermostat-A ended up, scope by scope. */
async function scopesHolding(key: string): Promise<string[]> {
  const out: string[] = [];
  for (const s of ['client', 'shared', 'server'] as const) if (await attr(s, key)) out.push(s);
  return out;
}

describe('save attributes node', () => {
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(() => helper.unload());

  for (const scope of ['client', 'shared', 'server'] as const) {
    it(`saves the payload's attributes in ${scope} scope when configured so`, async () => {
      await helper.load(nodes, flow({ scope }));
      const { port } = await sendAndWait('sa', input(), ['ok', 'fail']);
      assert.equal(port, 'ok');
      assert.deepEqual(await scopesHolding('deviceName'), [scope]);
      assert.deepEqual(await attr(scope, 'deviceName'), { value: 'Thermostat-A', lastUpdateTs: 1700000000000 });
      assert.deepEqual((await attr(scope, 'firmware'))?.value, { v: 2 }, 'values keep their types');
    });
  }

  it('saves in server scope by default (no scope configured), as ThingsBoard does', async () => {
    await helper.load(nodes, flow());
    const { port } = await sendAndWait('sa', input(), ['ok', 'fail']);
    assert.equal(port, 'ok');
    assert.deepEqual(await scopesHolding('deviceName'), ['server']);
  });

  for (const [spelling, expected] of [
    ['client', 'client'],
    ['CLIENT_SCOPE', 'client'],
    ['SHARED_SCOPE', 'shared'],
    ['server', 'server'],
  ] as const) {
    it(`lets metadata.scope "${spelling}" override the configured scope`, async () => {
      await helper.load(nodes, flow({ scope: expected === 'server' ? 'client' : 'server' }));
      const { port } = await sendAndWait('sa', input({ metadata: { scope: spelling } }), ['ok', 'fail']);
      assert.equal(port, 'ok');
      assert.deepEqual(await scopesHolding('deviceName'), [expected]);
    });
  }

  it('fails naming an invalid metadata.scope, and saves nothing', async () => {
    await helper.load(nodes, flow({ scope: 'client' }));
    const { port, msg } = await sendAndWait('sa', input({ metadata: { scope: 'PUBLIC_SCOPE' } }), ['ok', 'fail']);
    assert.equal(port, 'fail');
    assert.match(String(msg.error?.message), /metadata\.scope "PUBLIC_SCOPE" is not a scope/);
    assert.equal(msg.error?.code, 'bad-scope');
    assert.deepEqual(await scopesHolding('deviceName'), []);
    assert.equal(await store().getDevice('Thermostat-A'), undefined, 'no device created either');
  });

  it('uses metadata.ts as the update time', async () => {
    await helper.load(nodes, flow({ scope: 'client' }));
    await sendAndWait('sa', input({ metadata: { ts: '1650000000123' } }), ['ok', 'fail']);
    assert.equal((await attr('client', 'deviceName'))?.lastUpdateTs, 1650000000123);
  });

  it('uses the current time when metadata.ts is absent', async () => {
    await helper.load(nodes, flow({ scope: 'client' }));
    const before = Date.now();
    const { port } = await sendAndWait('sa', input({ metadata: {} }), ['ok', 'fail']);
    const after = Date.now();
    assert.equal(port, 'ok');
    const ts = (await attr('client', 'deviceName'))?.lastUpdateTs ?? -1;
    assert.ok(ts >= before && ts <= after, `lastUpdateTs ${ts} not within [${before}, ${after}]`);
  });

  for (const bad of ['yesterday', '12abc', 'NaN']) {
    it(`fails when metadata.ts is "${bad}"`, async () => {
      await helper.load(nodes, flow({ scope: 'client' }));
      const { port, msg } = await sendAndWait('sa', input({ metadata: { ts: bad } }), ['ok', 'fail']);
      assert.equal(port, 'fail');
      assert.match(String(msg.error?.message), new RegExp(`metadata\\.ts "${bad}" is not a number`));
      assert.equal(await attr('client', 'deviceName'), undefined);
    });
  }

  it('creates the device on first sight with metadata.deviceType, and never again', async () => {
    await helper.load(nodes, flow({ scope: 'client' }));
    assert.equal(await store().getDevice('Thermostat-A'), undefined);
    const before = Date.now();
    await sendAndWait('sa', input(), ['ok', 'fail']);
    const first = await store().getDevice('Thermostat-A');
    assert.equal(first?.type, 'thermostat');
    assert.ok(first && first.createdTime >= before && first.createdTime <= Date.now());
    // A second creation would now show in createdTime.
    await waitFor(() => Date.now() > first.createdTime, 1000, 'the clock to move on');
    const { port } = await sendAndWait(
      'sa',
      input({ metadata: { deviceType: 'other-type' }, payload: { firmware: '2.0' } }),
      ['ok', 'fail'],
    );
    assert.equal(port, 'ok');
    assert.deepEqual(await store().getDevice('Thermostat-A'), first, 'same type and createdTime');
    assert.equal((await attr('client', 'firmware'))?.value, '2.0', 'the second message was saved');
  });

  it("gives a new device the type 'default' without metadata.deviceType", async () => {
    await helper.load(nodes, flow());
    await sendAndWait('sa', input({ originator: 'Sensor-9', metadata: {} }), ['ok', 'fail']);
    assert.equal((await store().getDevice('Sensor-9'))?.type, 'default');
  });

  it('creates a new device once when two of its messages arrive together', async () => {
    await helper.load(nodes, flow());
    const ok = collect('ok');
    helper.getNode('sa').receive(input({ originator: 'Burst', payload: { a: 1 } }));
    helper.getNode('sa').receive(input({ originator: 'Burst', payload: { b: 2 }, metadata: { deviceType: 'x' } }));
    await waitFor(() => ok.msgs.length >= 2, 1000, 'both messages on Success');
    ok.stop();
    assert.equal(ok.msgs.length, 2);
    assert.equal((await store().getDevice('Burst'))?.type, 'thermostat', 'the first message decides the type');
  });

  it('passes the input message unchanged to Success', async () => {
    await helper.load(nodes, flow());
    const m = input({ topic: 'devices/Thermostat-A', _extra: { keep: true } });
    const original = structuredClone(m);
    const { port, msg } = await sendAndWait('sa', m, ['ok', 'fail']);
    assert.equal(port, 'ok');
    for (const k of Object.keys(original)) assert.deepEqual(msg[k], original[k], `msg.${k}`);
    assert.equal(msg.error, undefined);
    assert.equal(statusCalls('sa').at(-1)?.fill, 'green');
    assert.equal(statusCalls('sa').at(-1)?.text, 'ok');
  });

  it('stores copies: changing the message afterwards leaves the store alone', async () => {
    await helper.load(nodes, flow({ scope: 'shared' }));
    const { msg } = await sendAndWait('sa', input(), ['ok', 'fail']);
    (msg.payload as { firmware: { v: number } }).firmware.v = 99;
    assert.deepEqual((await attr('shared', 'firmware'))?.value, { v: 2 });
  });

  it('accepts an empty payload {} and saves nothing', async () => {
    await helper.load(nodes, flow());
    const { port } = await sendAndWait('sa', input({ payload: {} }), ['ok', 'fail']);
    assert.equal(port, 'ok');
    assert.deepEqual(await scopesHolding('deviceName'), []);
  });

  for (const t of ['POST_TELEMETRY_REQUEST', 'ATTRIBUTES_UPDATED', 'post_attributes_request']) {
    it(`sends message type ${t} to Failure, to Catch, with a red status`, async () => {
      await helper.load(nodes, flow());
      const caught = nextMessage('caught');
      const { port, msg } = await sendAndWait('sa', input({ msgType: t }), ['ok', 'fail']);
      assert.equal(port, 'fail');
      assert.equal(msg.error?.message, `message type "${t}" is not POST_ATTRIBUTES_REQUEST`);
      assert.equal(msg.error?.code, 'wrong-msgtype');
      const c = await caught;
      // The Catch node gets exactly the text of msg.error.message.
      assert.equal((c.error as { message: string }).message, msg.error?.message);
      const st = statusCalls('sa').at(-1);
      assert.equal(st?.fill, 'red');
      // The status shows the error text (shortened to 64 characters with an ellipsis when longer).
      assert.match(String(st?.text), /^message type "/);
      assert.ok(String(msg.error?.message).startsWith(String(st?.text).replace(/…$/, '')));
      assert.equal(await store().getDevice('Thermostat-A'), undefined);
    });
  }

  it('sends a message without msgType to Failure', async () => {
    await helper.load(nodes, flow());
    const m = input();
    delete m.msgType;
    const { port, msg } = await sendAndWait('sa', m, ['ok', 'fail']);
    assert.equal(port, 'fail');
    assert.match(String(msg.error?.message), /message type missing: is not POST_ATTRIBUTES_REQUEST/);
  });

  it('turns the status green again after a failure once a message succeeds', async () => {
    await helper.load(nodes, flow());
    await sendAndWait('sa', input({ msgType: 'X' }), ['ok', 'fail']);
    assert.equal(statusCalls('sa').at(-1)?.fill, 'red');
    await sendAndWait('sa', input(), ['ok', 'fail']);
    assert.equal(statusCalls('sa').at(-1)?.fill, 'green');
  });

  for (const [label, originator] of [
    ['missing', undefined],
    ['empty', ''],
    ['a number', 7],
  ] as const) {
    it(`fails with "originator missing" when the originator is ${label}`, async () => {
      await helper.load(nodes, flow());
      await assertOriginatorMissing('sa', input(), originator);
    });
  }

  for (const [label, payload, pattern] of [
    ['an array', [{ a: 1 }], /must be an object of attribute names to values, got array/],
    ['null', null, /got null/],
    ['a string', '{"a":1}', /got string/],
    ['a Buffer', Buffer.from('{"a":1}'), /got buffer/],
    ['a number', 5, /got number/],
    ['a Date', new Date(0), /got Date/],
    ['a NaN value', { a: Number.NaN }, /attribute "a" has a value that cannot be stored \(NaN\)/],
    ['an empty attribute name', { '': 1 }, /attribute with an empty name/],
  ] as const) {
    it(`fails when the payload is ${label}`, async () => {
      await helper.load(nodes, flow());
      const { port, msg } = await sendAndWait('sa', input({ payload }), ['ok', 'fail']);
      assert.equal(port, 'fail');
      assert.match(String(msg.error?.message), pattern);
      assert.equal(await store().getDevice('Thermostat-A'), undefined);
    });
  }

  it('keeps a __proto__ attribute as plain data', async () => {
    await helper.load(nodes, flow({ scope: 'client' }));
    const payload = JSON.parse('{"__proto__": {"isAdmin": true}, "deviceName": "x"}');
    const { port } = await sendAndWait('sa', input({ payload }), ['ok', 'fail']);
    assert.equal(port, 'ok');
    const v = (await attr('client', '__proto__'))?.value as Record<string, unknown>;
    assert.deepEqual({ ...v }, { isAdmin: true });
    assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
  });

  it('fails every message, with a red status from the start, when the device store is missing', async () => {
    await helper.load(nodes, flow({ deviceStore: 'nope' }));
    assert.equal(statusCalls('sa').at(-1)?.fill, 'red');
    const { port, msg } = await sendAndWait('sa', input(), ['ok', 'fail']);
    assert.equal(port, 'fail');
    assert.match(String(msg.error?.message), /device store is missing/);
  });

  it('fails every message when the configured scope is unknown', async () => {
    await helper.load(nodes, flow({ scope: 'everywhere' }));
    assert.match(String(statusCalls('sa').at(-1)?.text), /unknown scope "everywhere"/);
    const { port, msg } = await sendAndWait('sa', input(), ['ok', 'fail']);
    assert.equal(port, 'fail');
    assert.match(String(msg.error?.message), /unknown scope "everywhere"/);
  });

  it('the tutorial path: attributes saved in client scope reach an RPC as metadata.cs_deviceName', async () => {
    await helper.load(
      nodes,
      inTab([
        { id: 's1', type: 'rule-device-store', store: '' },
        { id: 'sa', type: 'rule-save-attributes', deviceStore: 's1', scope: 'client', wires: [['ok'], ['fail']] },
        { id: 'ok', type: 'helper' },
        { id: 'fail', type: 'helper' },
        {
          id: 'oa',
          type: 'rule-originator-attributes',
          deviceStore: 's1',
          clientAttributeNames: ['deviceName'],
          sharedAttributeNames: [],
          serverAttributeNames: [],
          latestTsKeyNames: [],
          fetchTo: 'metadata',
          wires: [['rpcOk'], ['rpcFail']],
        },
        { id: 'rpcOk', type: 'helper' },
        { id: 'rpcFail', type: 'helper' },
      ]),
    );
    const rpc: AnyMsg = {
      payload: { method: 'setValue', params: '42' },
      metadata: { requestUUID: 'r-1' },
      msgType: 'RPC_CALL_FROM_SERVER_TO_DEVICE',
      originator: 'Thermostat-A',
    };
    // Before the uplink saved anything, the enrichment finds nothing.
    let r = await sendAndWait('oa', structuredClone(rpc), ['rpcOk', 'rpcFail']);
    assert.equal(r.port, 'rpcFail');
    const saved = await sendAndWait(
      'sa',
      input({ payload: { deviceName: 'Thermostat-A' }, metadata: { deviceType: 'thermostat' } }),
      ['ok', 'fail'],
    );
    assert.equal(saved.port, 'ok');
    r = await sendAndWait('oa', structuredClone(rpc), ['rpcOk', 'rpcFail']);
    assert.equal(r.port, 'rpcOk');
    assert.equal(r.msg.metadata?.cs_deviceName, 'Thermostat-A');
  });

  describe('ThingsBoard options', () => {
    /** save attributes with a third output wired to helper `updated`. */
    function optionsFlow(sa: Record<string, unknown>) {
      return flowAround(
        { id: 'sa', type: 'rule-save-attributes', wires: [['ok'], ['fail'], ['updated']], ...sa },
        { deviceStore: {}, extra: [{ id: 'updated', type: 'helper' }] },
      );
    }
    const save = (payload: Record<string, unknown>, ts: string, metadata: Record<string, string> = {}) =>
      sendAndWait('sa', input({ payload, metadata: { ts, ...metadata } }), ['ok', 'fail']);

    it('only if changed: a value equal to the stored one is not written again and keeps its update time (TB updateAttributesOnlyOnValueChange)', async () => {
      await helper.load(nodes, optionsFlow({ scope: 'server', onlyIfChanged: true }));
      await save({ target: 21, mode: 'auto', cfg: { a: 1 } }, '1000');
      const { port } = await save({ target: 21, mode: 'eco', cfg: { a: 1 } }, '2000');
      assert.equal(port, 'ok');
      assert.deepEqual(await attr('server', 'target'), { value: 21, lastUpdateTs: 1000 });
      assert.deepEqual(await attr('server', 'cfg'), { value: { a: 1 }, lastUpdateTs: 1000 });
      assert.deepEqual(await attr('server', 'mode'), { value: 'eco', lastUpdateTs: 2000 });
      // The value and its type count, as in ThingsBoard: the string "21" is a change from the number 21.
      await save({ target: '21' }, '3000');
      assert.deepEqual(await attr('server', 'target'), { value: '21', lastUpdateTs: 3000 });
    });

    it('a flow saved before the options existed writes every value every time, with two outputs only', async () => {
      await helper.load(nodes, optionsFlow({ scope: 'server' }));
      const updated = collect('updated');
      await save({ target: 21, reading: '25.3' }, '1000');
      await save({ target: 21 }, '2000');
      assert.deepEqual(await attr('server', 'target'), { value: 21, lastUpdateTs: 2000 });
      assert.deepEqual((await attr('server', 'reading'))?.value, '25.3', 'no type cast');
      assert.equal(updated.msgs.length, 0);
      updated.stop();
    });

    it('send Attributes Updated: after a server-scope save, an ATTRIBUTES_UPDATED message with SERVER_SCOPE on the third output (TB sendAttributesUpdatedNotification)', async () => {
      await helper.load(nodes, optionsFlow({ scope: 'server', sendAttributesUpdated: true }));
      const event = nextMessage('updated');
      const { port, msg } = await save({ target: 21, mode: 'auto' }, '1000');
      assert.equal(port, 'ok');
      assert.equal(msg.msgType, 'POST_ATTRIBUTES_REQUEST', 'Success gets the input message');
      const e = await event;
      assert.equal(e.msgType, 'ATTRIBUTES_UPDATED');
      assert.equal(e.originator, 'Thermostat-A');
      assert.deepEqual(e.payload, { target: 21, mode: 'auto' });
      assert.deepEqual(e.metadata, { scope: 'SERVER_SCOPE' });
    });

    it('send Attributes Updated with only if changed: the event carries only the changed keys, and none comes when nothing changed (as TB)', async () => {
      await helper.load(nodes, optionsFlow({ scope: 'shared', onlyIfChanged: true, sendAttributesUpdated: true }));
      const events = collect('updated');
      await save({ target: 21, mode: 'auto' }, '1000');
      await save({ target: 22, mode: 'auto' }, '2000');
      const { port } = await save({ target: 22, mode: 'auto' }, '3000');
      assert.equal(port, 'ok', 'nothing changed is still Success');
      assert.deepEqual(
        events.msgs.map((m) => [m.payload, m.metadata?.scope]),
        [
          [{ target: 21, mode: 'auto' }, 'SHARED_SCOPE'],
          [{ target: 22 }, 'SHARED_SCOPE'],
        ],
      );
      events.stop();
    });

    it('send Attributes Updated: no event for client attributes, also when metadata.scope says client (TB notifies shared and server scope only)', async () => {
      await helper.load(nodes, optionsFlow({ scope: 'server', sendAttributesUpdated: true }));
      const events = collect('updated');
      const { port } = await save({ deviceName: 'A' }, '1000', { scope: 'CLIENT_SCOPE' });
      assert.equal(port, 'ok');
      assert.deepEqual(await scopesHolding('deviceName'), ['client']);
      assert.equal(events.msgs.length, 0);
      events.stop();
    });

    it("the Attributes Updated message reaches the message type switch's Attributes Updated output", async () => {
      const switchNode = require('../nodes/msg-type-switch/msg-type-switch');
      const outs = [
        'postAttributes',
        'postTelemetry',
        'rpcFrom',
        'rpcTo',
        'attrUpdated',
        'attrDeleted',
        'tsUpdated',
        'other',
      ];
      await helper.load(
        [...nodes, switchNode],
        flowAround(
          {
            id: 'sa',
            type: 'rule-save-attributes',
            scope: 'shared',
            sendAttributesUpdated: true,
            wires: [['ok'], ['fail'], ['sw']],
          },
          {
            deviceStore: {},
            extra: [
              { id: 'sw', type: 'rule-msg-type-switch', wires: outs.map((o) => [o]) },
              ...outs.map((id) => ({ id, type: 'helper' })),
            ],
          },
        ),
      );
      const routed = sendAndWait('sw', { payload: {}, metadata: {}, msgType: 'none yet' }, outs);
      assert.equal((await routed).port, 'other', 'the switch is wired');
      const reached = sendAndWait('sa', input({ payload: { target: 21 } }), outs);
      const { port, msg } = await reached;
      assert.equal(port, 'attrUpdated');
      assert.deepEqual(msg.payload, { target: 21 });
    });

    it('with Attributes Updated on, failures still go to the second output', async () => {
      await helper.load(nodes, optionsFlow({ scope: 'server', sendAttributesUpdated: true }));
      const { port, msg } = await sendAndWait('sa', input({ msgType: 'POST_TELEMETRY_REQUEST' }), ['ok', 'fail']);
      assert.equal(port, 'fail');
      assert.match(String(msg.error?.message), /is not POST_ATTRIBUTES_REQUEST/);
    });

    it('type cast: top-level numeric strings are saved as numbers, others stay strings (TB JSON_TYPE_CAST_ENABLED)', async () => {
      await helper.load(nodes, optionsFlow({ scope: 'client', typeCast: true }));
      const { port } = await save(
        { temperature: '25.3', count: '-4', half: '.5', plus: '+1', exp: '1e3', text: 'abc', nested: { t: '1' } },
        '1000',
      );
      assert.equal(port, 'ok');
      const values: Record<string, unknown> = {};
      for (const k of ['temperature', 'count', 'half', 'plus', 'exp', 'text', 'nested']) {
        values[k] = (await attr('client', k))?.value;
      }
      assert.deepEqual(values, {
        temperature: 25.3,
        count: -4,
        half: 0.5,
        plus: '+1',
        exp: '1e3',
        text: 'abc',
        nested: { t: '1' },
      });
    });
  });
});
