/**
 * One mapper per ThingsBoard rule node type that has an equivalent here: the Node-RED node it becomes, its
 * settings with ThingsBoard's defaults for fields the export leaves out, and which output each of
 * ThingsBoard's relation labels becomes. Defaults are those of ThingsBoard's configuration classes for a
 * missing field (a primitive boolean is false), not its editor's defaults for a new node.
 */
import { SWITCH_PORTS } from '../msg-types';
import { DEBUG_WHOLE_MESSAGE, ImportError, type Json } from './model';
import type { TbRuleNode } from './rule-chain';

export interface MapContext {
  /** Id of the flow's device store config node (created on first use). */
  deviceStore(): string;
  /** Id of the flow's integration config node (created on first use). */
  integration(): string;
  /** The relation labels leaving this node in the export, in the order of its connections, each once. */
  relations: readonly string[];
  /** A line for the report's notes, about this node. */
  note(text: string): void;
}

export interface MappedNode {
  /** The node's type and settings (the importer adds id, tab, position and wires). */
  settings: Json & { type: string };
  /** Output labels in order: a relation with one of these labels is wired from that output. */
  outputs: readonly string[];
}

interface RuleNodeMapper {
  /** The newest configurationVersion whose fields this mapper knows. */
  version: number;
  map(node: TbRuleNode, ctx: MapContext): MappedNode;
}

const SUCCESS_FAILURE = ['Success', 'Failure'];
const TRUE_FALSE = ['True', 'False'];

/** The script of a script node: JavaScript unless scriptLang says TBEL (exports before TBEL have no scriptLang). */
function scriptOf(node: TbRuleNode): { language: 'javascript' | 'tbel'; script: string } {
  const tbel = node.config.oneOf('scriptLang', ['JS', 'TBEL'], 'JS') === 'TBEL';
  const key = tbel ? 'tbelScript' : 'jsScript';
  const script = node.config.str(key, '');
  if (script.trim() === '') node.config.fail(key, 'the script');
  return { language: tbel ? 'tbel' : 'javascript', script };
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const SCOPES: Record<string, string> = { CLIENT_SCOPE: 'client', SHARED_SCOPE: 'shared', SERVER_SCOPE: 'server' };

export const RULE_NODE_MAPPERS: Readonly<Record<string, RuleNodeMapper>> = {
  TbMsgTimeseriesNode: {
    version: 1,
    map: (node, ctx) => {
      if (node.config.num('defaultTTL', 0) !== 0)
        ctx.note('defaultTTL is ignored: the device store keeps latest values');
      if (node.config.bool('useServerTs', false)) ctx.note("useServerTs is ignored: the message's ts is used");
      return {
        settings: { type: 'rule-save-timeseries', deviceStore: ctx.deviceStore(), typeCast: true },
        outputs: SUCCESS_FAILURE,
      };
    },
  },
  TbMsgAttributesNode: {
    version: 3,
    map: (node, ctx) => {
      const scope = node.config.oneOf('scope', Object.keys(SCOPES), 'SERVER_SCOPE');
      if (node.config.bool('notifyDevice', false)) ctx.note('notifyDevice is ignored: devices are not notified');
      return {
        settings: {
          type: 'rule-save-attributes',
          deviceStore: ctx.deviceStore(),
          scope: SCOPES[scope],
          onlyIfChanged: node.config.bool('updateAttributesOnlyOnValueChange', false),
          sendAttributesUpdated: node.config.bool('sendAttributesUpdatedNotification', false),
          typeCast: true,
        },
        outputs: SUCCESS_FAILURE,
      };
    },
  },
  TbMsgTypeSwitchNode: {
    version: 0,
    map: () => ({ settings: { type: 'rule-msg-type-switch' }, outputs: SWITCH_PORTS.map((p) => p.label) }),
  },
  TbMsgTypeFilterNode: {
    version: 0,
    map: (node) => {
      const types = node.config.strList('messageTypes');
      // (?!) matches nothing: with no types listed every message is False, as in ThingsBoard.
      const pattern = types.length > 0 ? `^(${types.map(escapeRegex).join('|')})$` : '(?!)';
      return {
        settings: {
          type: 'switch',
          property: 'msgType',
          propertyType: 'msg',
          rules: [{ t: 'regex', v: pattern, vt: 'str', case: false }, { t: 'else' }],
          checkall: 'false',
          repair: false,
          outputs: 2,
        },
        outputs: TRUE_FALSE,
      };
    },
  },
  TbOriginatorTypeFilterNode: {
    version: 0,
    map: (node) => {
      const types = node.config.strList('originatorTypes');
      // Every originator here is a device, named by msg.originator: true exactly when DEVICE is listed.
      const devices = types.includes('DEVICE');
      return {
        settings: {
          type: 'switch',
          property: devices ? '$type(originator) = "string"' : 'false',
          propertyType: 'jsonata',
          rules: [{ t: 'true' }, { t: 'false' }],
          checkall: 'false',
          repair: false,
          outputs: 2,
          info: `ThingsBoard's originator type filter for ${types.join(', ') || 'no type'}. Every originator here is a device (msg.originator is its name), so messages go to True only when DEVICE is listed.`,
        },
        outputs: TRUE_FALSE,
      };
    },
  },
  TbLogNode: {
    version: 0,
    map: (node) => {
      const { language, script } = scriptOf(node);
      return {
        settings: {
          ...DEBUG_WHOLE_MESSAGE,
          info: `ThingsBoard's log script (${language === 'tbel' ? 'TBEL' : 'JavaScript'}), not run here: this node shows the whole message in the Debug sidebar.\n\n\`\`\`\n${script}\n\`\`\``,
        },
        outputs: [],
      };
    },
  },
  TbTransformMsgNode: {
    version: 0,
    map: (node) => ({ settings: { type: 'rule-script', ...scriptOf(node), timeout: 500 }, outputs: SUCCESS_FAILURE }),
  },
  TbJsFilterNode: {
    version: 0,
    map: (node) => ({
      settings: { type: 'rule-script-filter', ...scriptOf(node), timeout: 500 },
      outputs: ['True', 'False', 'Failure'],
    }),
  },
  TbJsSwitchNode: {
    version: 0,
    map: (node, ctx) => {
      // One output per relation the chain uses, in the order of its connections, then Failure.
      const relations = ctx.relations.filter((r) => r !== 'Failure');
      return {
        settings: {
          type: 'rule-script-switch',
          ...scriptOf(node),
          timeout: 500,
          relations,
          outputs: relations.length + 1,
        },
        outputs: [...relations, 'Failure'],
      };
    },
  },
  TbGetAttributesNode: {
    version: 1,
    map: (node, ctx) => {
      const c = node.config;
      // Version 1 has fetchTo (METADATA or DATA); older exports have the boolean fetchToData.
      const toData = c.has('fetchTo')
        ? c.oneOf('fetchTo', ['METADATA', 'DATA'], 'METADATA') === 'DATA'
        : c.bool('fetchToData', false);
      return {
        settings: {
          type: 'rule-originator-attributes',
          deviceStore: ctx.deviceStore(),
          clientAttributeNames: c.strList('clientAttributeNames'),
          sharedAttributeNames: c.strList('sharedAttributeNames'),
          serverAttributeNames: c.strList('serverAttributeNames'),
          latestTsKeyNames: c.strList('latestTsKeyNames'),
          fetchTo: toData ? 'data' : 'metadata',
          getLatestValueWithTs: c.bool('getLatestValueWithTs', false),
          tellFailureIfAbsent: c.bool('tellFailureIfAbsent', false),
          telemetryPrefix: '',
          doubleFormat: 'thingsboard',
          patternObjects: 'keep',
        },
        outputs: SUCCESS_FAILURE,
      };
    },
  },
  TbIntegrationDownlinkNode: {
    version: 0,
    map: (_node, ctx) => ({
      settings: { type: 'rule-integration-downlink', integration: ctx.integration() },
      outputs: SUCCESS_FAILURE,
    }),
  },
};

/** Why a known ThingsBoard node has no equivalent, for the report. */
export const NOT_MAPPED_REASONS: Readonly<Record<string, string>> = {
  TbDuplicateMsgToGroupNode: 'entity groups are a ThingsBoard PE feature; this package has devices only',
  TbSendRPCRequestNode:
    "sends an RPC through ThingsBoard's device transport; here commands reach a device through an integration downlink",
};

/** The class name without its package: org.thingsboard.rule.engine.filter.TbJsFilterNode -> TbJsFilterNode. */
export const shortType = (type: string) => type.slice(type.lastIndexOf('.') + 1);

/** The mapper for a node, undefined when its type has none; an ImportError when its version is newer than known. */
export function mapperFor(node: TbRuleNode, file: string): RuleNodeMapper | undefined {
  const mapper = Object.hasOwn(RULE_NODE_MAPPERS, shortType(node.type))
    ? RULE_NODE_MAPPERS[shortType(node.type)]
    : undefined;
  if (mapper && node.version > mapper.version) {
    throw new ImportError(
      `${file}: metadata.nodes[${node.index}].configurationVersion: ${node.type} version ${node.version} is newer than this importer knows (up to ${mapper.version})`,
    );
  }
  return mapper;
}
