/** The downlink queue on its own: bounds, ages, coalescing, order (the broker tests are in integration-mqtt). */
import assert from 'node:assert/strict';
import { BrokerWaitingRoom, DownlinkQueue, type Dropped, type WaitingDownlink } from '../nodes/lib/downlink-queue';
import { waitFor } from './toolkit';

const options = { maxSize: 3, maxAgeMs: 1000, coalesce: true };

describe('downlink queue (pure)', () => {
  it('keeps commands in order and gives them all back once', () => {
    const q = new DownlinkQueue<string>({ ...options, coalesce: false });
    for (const c of ['a', 'b', 'c']) assert.deepEqual(q.add(c, 'same', 0), []);
    assert.equal(q.size, 3);
    assert.deepEqual(q.take(), ['a', 'b', 'c']);
    assert.deepEqual(q.take(), []);
  });

  it('refuses a command over the bound, naming the bound', () => {
    const q = new DownlinkQueue<string>(options);
    for (const c of ['a', 'b', 'c']) q.add(c, undefined, 0);
    const [d, more] = q.add('d', undefined, 0);
    assert.equal(more, undefined);
    assert.equal(d?.item, 'd');
    assert.equal(d?.reason, 'full');
    assert.match(String(d?.message), /full \(3 commands/);
    assert.deepEqual(q.take(), ['a', 'b', 'c']);
  });

  it('coalescing: a newer command with the same key replaces the waiting one and goes to the end', () => {
    const q = new DownlinkQueue<string>(options);
    q.add('dev1=20', 'dev1', 0);
    q.add('dev2=20', 'dev2', 0);
    const dropped = q.add('dev1=21', 'dev1', 0);
    assert.deepEqual(
      dropped.map((d) => [d.item, d.reason]),
      [['dev1=20', 'superseded']],
    );
    // Commands without a key are never coalesced.
    q.add('x', undefined, 0);
    assert.deepEqual(q.add('y', undefined, 0)[0]?.reason, 'full');
    assert.deepEqual(q.take(), ['dev2=20', 'dev1=21', 'x']);
  });

  it('a full queue still takes a command that replaces a waiting one', () => {
    const q = new DownlinkQueue<string>(options);
    for (const c of ['a', 'b', 'c']) q.add(c, c, 0);
    const dropped = q.add('b2', 'b', 0);
    assert.deepEqual(
      dropped.map((d) => d.reason),
      ['superseded'],
    );
    assert.deepEqual(q.take(), ['a', 'c', 'b2']);
  });

  it('expires commands by the maximum age and by their own expiration, whichever is sooner', () => {
    const q = new DownlinkQueue<string>(options);
    q.add('old', undefined, 0);
    q.add('rpc', undefined, 100, 400);
    q.add('young', undefined, 500);
    assert.deepEqual(q.expire(399), []);
    assert.deepEqual(
      q.expire(400).map((d) => [d.item, d.reason]),
      [['rpc', 'expired']],
    );
    assert.deepEqual(
      q.expire(1000).map((d) => d.item),
      ['old'],
    );
    assert.deepEqual(q.take(), ['young']);
    assert.equal(q.add('late', undefined, 10, 10)[0]?.reason, 'expired', 'expired on arrival');
    assert.equal(q.size, 0);
  });
});

describe('broker waiting room', () => {
  /** A waiting downlink that records what became of it. */
  const record = (log: string[], name: string): WaitingDownlink => ({
    send: () => log.push(`sent ${name}`),
    drop: (d: Dropped<WaitingDownlink>) => log.push(`${d.reason} ${name}`),
  });

  it('sends what waits, in order, once the broker is back; fails what waited too long', async () => {
    let problem: string | undefined = 'broker down';
    const log: string[] = [];
    const room = new BrokerWaitingRoom({ maxSize: 10, maxAgeMs: 150, coalesce: true }, () => problem);
    room.add(record(log, 'short'), undefined);
    await waitFor(() => log.length === 1, 2000, 'the first command to expire');
    assert.deepEqual(log, ['expired short']);
    const patient = new BrokerWaitingRoom({ maxSize: 10, maxAgeMs: 60_000, coalesce: true }, () => problem);
    patient.add(record(log, 'a'), 'k');
    patient.add(record(log, 'b'), undefined);
    patient.add(record(log, 'a2'), 'k');
    patient.check();
    assert.deepEqual(log, ['expired short', 'superseded a'], 'nothing sent while the broker is down');
    problem = undefined;
    await waitFor(() => patient.size === 0, 2000, 'the queue to drain');
    assert.deepEqual(log, ['expired short', 'superseded a', 'sent b', 'sent a2']);
  });

  it('close() fails every waiting command as stopped', () => {
    const log: string[] = [];
    const room = new BrokerWaitingRoom({ maxSize: 10, maxAgeMs: 60_000, coalesce: false }, () => 'down');
    room.add(record(log, 'a'), undefined);
    room.add(record(log, 'b'), undefined);
    room.close('redeployed');
    assert.deepEqual(log, ['stopped a', 'stopped b']);
    assert.equal(room.size, 0);
  });
});
