/**
 * "rpc request": the bridge from a dashboard control to a device. A value becomes ThingsBoard's
 * RPC_CALL_FROM_SERVER_TO_DEVICE message (output 1, into the rule chain); the control gets its answer on
 * output 2: getValue from the device's latest telemetry, a one-way setValue once the integration downlink has
 * handed it to MQTT (or the error, or a time-out). A persistent call is stored with its device and reports each
 * status change on output 3. The logic is in nodes/lib/rpc.ts and nodes/lib/persistent-rpc.ts.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import type { DeviceStore, StoredRpc } from '../lib/device-store';
import { t } from '../lib/node-red';
import {
  type PersistentNodeDef,
  PersistentRpcRunner,
  persistentDefaults,
  persistentOptions,
  type StatusChange,
} from '../lib/persistent-rpc';
import { type RpcNodeDef, type RpcStatus, RpcWaits, rpcCallOf, rpcReply, rpcSettings, startRpc } from '../lib/rpc';
import { deviceStoreOf, ruleNode } from '../lib/rule-node';

interface RpcDef extends NodeDef, RpcNodeDef, PersistentNodeDef {
  deviceStore?: string;
}

/** A persistent call's end as the control's Reply says it. */
const REPLY_STATUS: Record<string, RpcStatus> = {
  successful: 'ok',
  timeout: 'timeout',
  expired: 'timeout',
  failed: 'error',
};

/** How many persistent calls' messages a node keeps for their Status and Reply (then a call's own parts). */
const MAX_CALL_MSGS = 10_000;

export = (RED: NodeAPI) => {
  function RpcRequestNode(this: Node, def: RpcDef) {
    RED.nodes.createNode(this, def);
    const settings = rpcSettings(def);
    const persistence = persistentDefaults(def);
    const waits = new RpcWaits();
    const storeOf = deviceStoreOf(RED, def.deviceStore);
    /** The messages of this node's persistent calls made since it started, for their Status and Reply. */
    const callMsgs = new Map<string, NodeMessage>();
    let runner: PersistentRpcRunner | undefined;
    const runnerFor = (store: DeviceStore): PersistentRpcRunner => {
      if (runner?.store === store) return runner;
      runner?.close();
      runner = new PersistentRpcRunner(
        this.id,
        store,
        { timeoutMs: settings.timeoutMs, onlineMs: persistence.onlineMs },
        {
          send: (request) => this.send([request, null, null]),
          status: (rpc, change) => report(rpc, change),
          error: (err) => this.warn(`persistent RPC: ${err.message}`),
        },
      );
      return runner;
    };
    const report = (rpc: StoredRpc, change: StatusChange) => {
      const msg = callMsgs.get(rpc.requestUUID) ?? { originator: rpc.deviceName };
      const call = { requestUUID: rpc.requestUUID, method: rpc.method, device: rpc.deviceName, value: rpc.value };
      const payload = change.status === 'successful' && !rpc.oneway ? change.response : rpc.value;
      const words = { method: rpc.method, value: String(JSON.stringify(rpc.value)), status: change.status };
      const text = t(RED, 'rpc-request.status.persistent', '__method__: __value__ __status__', words);
      const reply = REPLY_STATUS[change.status];
      if (reply === 'ok') status.soon(() => ({ fill: 'green', shape: 'dot', text }));
      else if (reply === 'error') status.error(text);
      else status.warn(text);
      const statusMsg = {
        ...msg,
        payload,
        rpc: {
          requestUUID: rpc.requestUUID,
          method: rpc.method,
          status: change.status,
          persistent: true,
          attempts: rpc.attempts,
          retries: rpc.retries,
          expirationTime: rpc.expirationTime,
          ...(change.error ? { error: change.error } : {}),
        },
      };
      this.send([null, null, statusMsg]);
      if (!reply) return;
      // The end, after its status, as the control's Reply.
      callMsgs.delete(rpc.requestUUID);
      this.send([
        null,
        rpcReply(msg, call, payload, { status: reply, ...(change.error ? { error: change.error } : {}) }),
        null,
      ]);
    };
    const status = ruleNode(this, {
      outputs: 3,
      // The control's output is the Failure output, as before the Status output was added after it.
      failureOutput: 1,
      config: storeOf,
      store: (s) => s,
      accept: (msg: NodeMessageInFlow) => rpcCallOf(msg, settings),
      // The control's output is the Failure output too: it gets the value it sent back, with the error.
      failureMessage: (err, msg, call) =>
        rpcReply(msg, call ?? rpcCallOf(msg, settings), msg.payload, { status: 'error', error: err.message }),
      handle: async (input) => {
        const { msg: call, received } = input;
        const now = Date.now();
        const options = persistentOptions((received as { rpc?: unknown }).rpc, persistence, now);
        const started = await startRpc(input.config, call, settings, now);
        if (started.request && options.persistent) {
          callMsgs.set(call.requestUUID, received);
          // A call another instance ends (a shared store) is never reported here: forget the oldest.
          if (callMsgs.size > MAX_CALL_MSGS) callMsgs.delete(callMsgs.keys().next().value as string);
          try {
            await runnerFor(input.config).start({
              requestUUID: call.requestUUID,
              deviceName: call.device,
              deviceType: started.request.metadata.deviceType ?? 'default',
              method: call.method,
              value: call.value === undefined ? null : call.value,
              oneway: settings.oneway,
              expirationTime: options.expirationTime,
              retries: options.retries,
              attempts: 0,
              status: 'queued',
              createdTime: now,
              node: this.id,
            });
          } catch (err) {
            callMsgs.delete(call.requestUUID);
            throw err;
          }
          input.done();
          return;
        }
        if (!started.request) {
          const text = t(RED, 'rpc-request.status.value', '__method__: __value__', {
            method: call.method,
            value: String(started.value),
          });
          input.status.ok(text);
          input.output(rpcReply(received, call, started.value, { status: 'ok' }), 1);
          input.done();
          return;
        }
        const value = String(JSON.stringify(received.payload));
        const twoWay = !settings.oneway;
        waits.wait(
          call.requestUUID,
          settings.timeoutMs,
          (outcome) => {
            const words = { method: call.method, value };
            if (outcome.status === 'queued') {
              status.warn(t(RED, 'rpc-request.status.queued', '__method__: __value__ queued', words));
            } else if (outcome.status === 'sent') {
              // A two-way call handed to MQTT: its Reply comes with the device's answer (or a time-out).
              status.warn(
                t(RED, 'rpc-request.status.awaitingReply', '__method__: __value__ sent, waiting for the reply', words),
              );
              return;
            } else if (outcome.status === 'ok') {
              // Translated only when the throttled status is shown: at a knob's rate most are never shown.
              status.soon(() => ({
                fill: 'green',
                shape: 'dot',
                text: twoWay
                  ? t(RED, 'rpc-request.status.replied', '__method__: replied __response__', {
                      method: call.method,
                      response: String(JSON.stringify(outcome.response)),
                    })
                  : t(RED, 'rpc-request.status.sent', '__method__: __value__ sent', words),
              }));
            } else if (outcome.status === 'timeout') {
              status.warn(t(RED, 'rpc-request.status.timedOut', '__method__: timed out', { method: call.method }));
            } else {
              status.error(
                t(RED, 'rpc-request.status.failed', '__method__: __error__', {
                  method: call.method,
                  error: outcome.error ?? outcome.status,
                }),
              );
            }
            const payload = twoWay && outcome.status === 'ok' ? outcome.response : received.payload;
            input.output(rpcReply(received, call, payload, outcome), 1);
          },
          twoWay,
        );
        input.output(started.request);
        input.done();
      },
    });

    // This node's stored calls, from before a restart, expire at their time even if their device is never seen.
    try {
      void runnerFor(storeOf()).resume();
    } catch {
      // No usable device store: the status says so already.
    }

    this.on('close', (_removed: boolean, closed: () => void) => {
      waits.close();
      runner?.close();
      status.cancel();
      closed();
    });
  }
  RED.nodes.registerType('rule-rpc-request', RpcRequestNode);
};
