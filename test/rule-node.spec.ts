// The one shape of a node's input handling (nodes/lib/rule-node.ts), on a small stand-in for a Node-RED node
// that records what the helper does with it: what is sent on which output, the status, node.error and done.
import assert from 'node:assert/strict';
import type { Node, NodeMessage, NodeMessageInFlow, NodeStatus } from 'node-red';
import { MessageError } from '../nodes/lib/message';
import { acceptRuleMessage, type RuleNodeSpec, ruleNode } from '../nodes/lib/rule-node';

interface Recorded {
  sent: Array<Array<NodeMessage | NodeMessage[] | null>>;
  statuses: NodeStatus[];
  errors: Array<{ text: unknown; msg: unknown }>;
  done: number;
}

/** A node with only what ruleNode uses, and a way to send it a message. */
function fakeNode<M, C>(spec: RuleNodeSpec<M, C>) {
  let handler: (msg: NodeMessageInFlow, send: (m: never) => void, done: () => void) => void = () => {};
  const rec: Recorded = { sent: [], statuses: [], errors: [], done: 0 };
  const node = {
    id: 'n1',
    type: 'rule-test',
    name: 'test',
    on: (_event: string, h: typeof handler) => {
      handler = h;
    },
    status: (s: NodeStatus) => rec.statuses.push(s),
    error: (text: unknown, msg: unknown) => rec.errors.push({ text, msg }),
  };
  ruleNode(node as unknown as Node, spec);
  const receive = (msg: Record<string, unknown>) =>
    handler(
      { _msgid: 'm', ...msg },
      ((m: Array<NodeMessage | NodeMessage[] | null>) => rec.sent.push(m)) as never,
      () => rec.done++,
    );
  return { rec, receive };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('rule-node: one shape for every node', () => {
  it('success: the msg, typed by accept, on the first output; the ok status; done', () => {
    const { rec, receive } = fakeNode({
      okText: 'saved',
      accept: acceptRuleMessage,
      handle: (input) => {
        assert.equal(input.msg.msgType, 'X');
        assert.deepEqual(input.msg.metadata, { n: '1' });
        input.success();
      },
    });
    receive({ payload: 1, msgType: 'X', metadata: { n: 1 } });
    assert.equal(rec.sent.length, 1);
    assert.equal((rec.sent[0][0] as NodeMessage).payload, 1);
    assert.equal(rec.sent[0][1], null);
    assert.equal(rec.statuses.at(-1)?.text, 'saved');
    assert.equal(rec.done, 1);
  });

  it('a msg accept refuses goes to Failure with msg.error, the status, node.error; handle never runs', () => {
    let handled = false;
    const { rec, receive } = fakeNode({
      accept: acceptRuleMessage,
      handle: () => {
        handled = true;
      },
    });
    receive({ payload: 1, metadata: 'x' });
    assert.equal(handled, false);
    const failed = rec.sent[0][1] as NodeMessage;
    assert.equal(rec.sent[0][0], null);
    assert.deepEqual(failed.error, {
      message: 'msg.metadata must be an object of string values',
      code: 'bad-metadata',
      source: { id: 'n1', type: 'rule-test', name: 'test' },
    });
    assert.equal(rec.statuses.at(-1)?.fill, 'red');
    assert.deepEqual(rec.errors, [{ text: 'msg.metadata must be an object of string values', msg: failed }]);
    assert.equal(rec.done, 1);
  });

  it('a configuration error shows at deploy and fails every message', () => {
    const { rec, receive } = fakeNode({
      config: () => {
        throw new MessageError('no device store configured', 'no-store');
      },
      accept: acceptRuleMessage,
      handle: (input) => input.success(),
    });
    assert.equal(rec.statuses.at(-1)?.text, 'no device store configured');
    receive({ payload: 1 });
    assert.equal((rec.sent[0][1] as NodeMessage & { error: { code: string } }).error.code, 'no-store');
    assert.equal(rec.done, 1);
  });

  it('a promise from handle that rejects is a failure; one bad item of several fails alone', async () => {
    const { rec, receive } = fakeNode({
      outputs: 3,
      accept: acceptRuleMessage,
      failureText: (err) => `failed: ${err.message}`,
      handle: async (input) => {
        await tick();
        if (input.msg.payload === 'items') {
          input.output([{ payload: 'a' }]);
          input.itemFailure(new Error('item b'), { ...input.received });
          input.done();
          return;
        }
        throw new Error('boom');
      },
    });
    receive({ payload: 'whole' });
    receive({ payload: 'items' });
    await tick();
    await tick();
    assert.equal(rec.sent.length, 3);
    assert.equal((rec.sent[0][2] as NodeMessage & { error: { message: string } }).error.message, 'boom');
    assert.deepEqual(rec.sent[1], [[{ payload: 'a' }], null, null]);
    assert.equal((rec.sent[2][2] as NodeMessage & { error: { message: string } }).error.message, 'item b');
    assert.equal(rec.statuses.at(-1)?.text, 'failed: item b');
    assert.equal(rec.errors.length, 2);
    assert.equal(rec.done, 2);
  });
});
