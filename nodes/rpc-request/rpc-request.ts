/**
 * "rpc request": the bridge from a dashboard control to a device. A value becomes ThingsBoard's
 * RPC_CALL_FROM_SERVER_TO_DEVICE message (output 1, into the rule chain); the control gets its answer on
 * output 2: getValue from the device's latest telemetry, a one-way setValue once the integration downlink has
 * handed it to MQTT (or the error, or a time-out).
 */
import { randomUUID } from 'node:crypto';
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { MessageError } from '../lib/message';
import { type Done, numberSetting, resolveDeviceStore, type Send, StatusTracker, t } from '../lib/node-red';
import { pendingRpcs, type RpcOutcome, rpcRequestMessage } from '../lib/rpc';

interface RpcDef extends NodeDef {
  deviceStore?: string;
  device?: string;
  method?: string;
  getValueMethod?: string;
  valueKey?: string;
  timeout?: string | number;
  oneway?: boolean | string;
}

export = (RED: NodeAPI) => {
  function RpcRequestNode(this: Node, def: RpcDef) {
    RED.nodes.createNode(this, def);
    const status = new StatusTracker(this);
    const method = (def.method || 'setValue').trim();
    const getValueMethod = (def.getValueMethod ?? 'getValue').trim();
    const valueKey = (def.valueKey || 'temperature').trim();
    const timeoutMs = numberSetting(def.timeout, 500, 1);
    const oneway = def.oneway !== false && def.oneway !== 'false';
    const timers = new Set<NodeJS.Timeout>();
    const waiting = new Set<string>();
    try {
      resolveDeviceStore(RED, def.deviceStore);
    } catch (err) {
      status.error((err as Error).message);
    }

    this.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
      const m = msg as NodeMessageInFlow & { method?: unknown; originator?: unknown };
      const callMethod = typeof m.method === 'string' && m.method !== '' ? m.method : method;
      const requestUUID = randomUUID();
      const reply = (payload: unknown, outcome: RpcOutcome) => {
        const r: NodeMessage = {
          ...msg,
          payload,
          rpc: {
            requestUUID,
            method: callMethod,
            status: outcome.status,
            ...(outcome.error ? { error: outcome.error } : {}),
          },
        } as NodeMessage;
        send([null, r]);
      };
      const failReply = (err: Error) => {
        status.error(err.message);
        reply(msg.payload, { status: 'error', error: err.message });
        done(err);
      };
      const device = (def.device ?? '').trim() || (typeof m.originator === 'string' ? m.originator : '');
      if (!device) {
        failReply(new MessageError('no device: set one on the node or send msg.originator', 'originator-missing'));
        return;
      }
      let store: ReturnType<typeof resolveDeviceStore>;
      try {
        store = resolveDeviceStore(RED, def.deviceStore);
      } catch (err) {
        failReply(err as Error);
        return;
      }

      if (getValueMethod && callMethod === getValueMethod) {
        // Answered here, never sent to the device (the tutorial's device turned params null into NaN).
        store.deviceStore.getLatest(device, [valueKey]).then(
          (latest) => {
            const entry = latest.get(valueKey);
            if (!entry) {
              failReply(new MessageError(`no latest "${valueKey}" telemetry for device "${device}" yet`, 'no-value'));
              return;
            }
            status.ok(
              t(RED, 'rpc-request.status.value', '__method__: __value__', {
                method: callMethod,
                value: String(entry.value),
              }),
            );
            reply(entry.value, { status: 'ok' });
            done();
          },
          (err) => failReply(err),
        );
        return;
      }

      store.deviceStore.getDevice(device).then(
        (dev) => {
          if (!dev) {
            failReply(new MessageError(`unknown device "${device}"`, 'unknown-device'));
            return;
          }
          const request = rpcRequestMessage({
            method: callMethod,
            value: msg.payload,
            deviceName: device,
            deviceType: dev.type,
            oneway,
            timeoutMs,
            now: Date.now(),
            requestUUID,
          });
          waiting.add(requestUUID);
          const timer = setTimeout(() => {
            timers.delete(timer);
            waiting.delete(requestUUID);
            pendingRpcs.forget(requestUUID);
            status.warn(t(RED, 'rpc-request.status.timedOut', '__method__: timed out', { method: callMethod }));
            reply(msg.payload, { status: 'timeout', error: `no downlink within ${timeoutMs} ms` });
          }, timeoutMs);
          timers.add(timer);
          pendingRpcs.add(requestUUID, (outcome) => {
            clearTimeout(timer);
            timers.delete(timer);
            waiting.delete(requestUUID);
            if (outcome.status === 'ok') {
              status.soon(() => ({
                fill: 'green',
                shape: 'dot',
                text: t(RED, 'rpc-request.status.sent', '__method__: __value__ sent', {
                  method: callMethod,
                  value: String(JSON.stringify(msg.payload)),
                }),
              }));
            } else {
              status.error(
                t(RED, 'rpc-request.status.failed', '__method__: __error__', {
                  method: callMethod,
                  error: outcome.error ?? outcome.status,
                }),
              );
            }
            reply(msg.payload, outcome);
          });
          send([request as unknown as NodeMessage, null]);
          done();
        },
        (err) => failReply(err),
      );
    });

    this.on('close', (_removed: boolean, closed: () => void) => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const id of waiting) pendingRpcs.forget(id);
      waiting.clear();
      status.cancel();
      closed();
    });
  }
  RED.nodes.registerType('rule-rpc-request', RpcRequestNode);
};
