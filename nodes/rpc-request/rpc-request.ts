/**
 * "rpc request": the bridge from a dashboard control to a device. A value becomes ThingsBoard's
 * RPC_CALL_FROM_SERVER_TO_DEVICE message (output 1, into the rule chain); the control gets its answer on
 * output 2: getValue from the device's latest telemetry, a one-way setValue once the integration downlink has
 * handed it to MQTT (or the error, or a time-out). The logic is in nodes/lib/rpc.ts.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { t } from '../lib/node-red';
import { type RpcNodeDef, RpcWaits, rpcCallOf, rpcReply, rpcSettings, startRpc } from '../lib/rpc';
import { deviceStoreOf, ruleNode } from '../lib/rule-node';

interface RpcDef extends NodeDef, RpcNodeDef {
  deviceStore?: string;
}

export = (RED: NodeAPI) => {
  function RpcRequestNode(this: Node, def: RpcDef) {
    RED.nodes.createNode(this, def);
    const settings = rpcSettings(def);
    const waits = new RpcWaits();
    const status = ruleNode(this, {
      config: deviceStoreOf(RED, def.deviceStore),
      store: (s) => s,
      accept: (msg: NodeMessageInFlow) => rpcCallOf(msg, settings),
      // The control's output is the Failure output too: it gets the value it sent back, with the error.
      failureMessage: (err, msg, call) =>
        rpcReply(msg, call ?? rpcCallOf(msg, settings), msg.payload, { status: 'error', error: err.message }),
      handle: async (input) => {
        const { msg: call, received } = input;
        const started = await startRpc(input.config, call, settings, Date.now());
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
              const text = twoWay
                ? t(RED, 'rpc-request.status.replied', '__method__: replied __response__', {
                    method: call.method,
                    response: String(JSON.stringify(outcome.response)),
                  })
                : t(RED, 'rpc-request.status.sent', '__method__: __value__ sent', words);
              status.soon(() => ({ fill: 'green', shape: 'dot', text }));
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

    this.on('close', (_removed: boolean, closed: () => void) => {
      waits.close();
      status.cancel();
      closed();
    });
  }
  RED.nodes.registerType('rule-rpc-request', RpcRequestNode);
};
