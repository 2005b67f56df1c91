/**
 * "save time series": saves the message's telemetry points to the originator device, keeping the latest
 * value of each key, and creates the device on first sight, as ThingsBoard's node of that name does.
 * Outputs: Success, Failure.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { t } from '../lib/node-red';
import { acceptRuleMessage, deviceStoreOf, ruleNode } from '../lib/rule-node';
import { saveTelemetryMessage, saveTimeseriesOptionsFrom } from '../lib/save-data';

interface SaveTimeseriesDef extends NodeDef {
  deviceStore?: string;
  typeCast?: boolean;
}

export = (RED: NodeAPI) => {
  function SaveTimeseriesNode(this: Node, def: SaveTimeseriesDef) {
    RED.nodes.createNode(this, def);
    const opts = saveTimeseriesOptionsFrom(def);
    ruleNode(this, {
      okText: t(RED, 'save-timeseries.status.ok', 'ok'),
      config: deviceStoreOf(RED, def.deviceStore),
      store: (s) => s,
      accept: acceptRuleMessage,
      handle: (input) => saveTelemetryMessage(input.config, input.msg, Date.now(), opts).then(() => input.success()),
    });
  }
  RED.nodes.registerType('rule-save-timeseries', SaveTimeseriesNode);
};
