/**
 * "save time series": saves the message's telemetry points to the originator device, keeping the latest
 * value of each key, and creates the device on first sight, as ThingsBoard's node of that name does.
 * Outputs: Success, Failure.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { validateMessage } from '../lib/message';
import { type Done, resolveDeviceStore, type Send, StatusTracker, sendFailure, t } from '../lib/node-red';
import { saveTelemetryMessage } from '../lib/save-data';

interface SaveTimeseriesDef extends NodeDef {
  deviceStore?: string;
}

export = (RED: NodeAPI) => {
  function SaveTimeseriesNode(this: Node, def: SaveTimeseriesDef) {
    RED.nodes.createNode(this, def);
    const status = new StatusTracker(this);
    const okText = t(RED, 'save-timeseries.status.ok', 'ok');
    try {
      resolveDeviceStore(RED, def.deviceStore);
    } catch (err) {
      status.error((err as Error).message);
    }

    this.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
      const fail = (err: unknown) => sendFailure(this, status, send, done, msg, err, 1, 2);
      let storeNode: ReturnType<typeof resolveDeviceStore>;
      try {
        validateMessage(msg as unknown as Record<string, unknown>);
        storeNode = resolveDeviceStore(RED, def.deviceStore);
      } catch (err) {
        fail(err);
        return;
      }
      const rmsg = msg as unknown as Parameters<typeof saveTelemetryMessage>[1];
      saveTelemetryMessage(storeNode.deviceStore, rmsg, Date.now()).then(
        () => {
          status.ok(okText);
          send([msg, null]);
          done();
        },
        (err) => fail(err),
      );
    });
  }
  RED.nodes.registerType('rule-save-timeseries', SaveTimeseriesNode);
};
