/**
 * CloudFormation YAML: the `yaml` package with a custom tag for every intrinsic short form, so that
 * `!Sub`, `!GetAtt`, `!If`… come out in their long JSON form (`{ "Fn::Sub": … }`, `{ "Ref": … }`).
 */
import { type CollectionTag, parse, type ScalarTag, YAMLMap, YAMLSeq } from 'yaml';

/** Short tag -> long form key. `!GetAtt` and `!Ref`/`!Condition` are special-cased below. */
const SHORT_FORMS: Readonly<Record<string, string>> = {
  '!Ref': 'Ref',
  '!Condition': 'Condition',
  '!GetAtt': 'Fn::GetAtt',
  '!Sub': 'Fn::Sub',
  '!Join': 'Fn::Join',
  '!Select': 'Fn::Select',
  '!Split': 'Fn::Split',
  '!If': 'Fn::If',
  '!Equals': 'Fn::Equals',
  '!Not': 'Fn::Not',
  '!And': 'Fn::And',
  '!Or': 'Fn::Or',
  '!FindInMap': 'Fn::FindInMap',
  '!GetAZs': 'Fn::GetAZs',
  '!ImportValue': 'Fn::ImportValue',
  '!Base64': 'Fn::Base64',
  '!Cidr': 'Fn::Cidr',
  '!Length': 'Fn::Length',
  '!ToJsonString': 'Fn::ToJsonString',
  '!Transform': 'Fn::Transform',
};

function longForm(tag: string, value: unknown): Record<string, unknown> {
  const key = SHORT_FORMS[tag] as string;
  // `!GetAtt Res.Attr.Sub` is the string form of `[Res, "Attr.Sub"]`.
  if (key === 'Fn::GetAtt' && typeof value === 'string') {
    const dot = value.indexOf('.');
    return { [key]: dot < 0 ? [value] : [value.slice(0, dot), value.slice(dot + 1)] };
  }
  return { [key]: value };
}

function tagsFor(tag: string): Array<ScalarTag | CollectionTag> {
  return [
    { tag, resolve: (value: string) => longForm(tag, value) },
    {
      tag,
      collection: 'seq',
      nodeClass: YAMLSeq,
      resolve: (seq) => longForm(tag, (seq as YAMLSeq).toJSON()),
    },
    {
      tag,
      collection: 'map',
      nodeClass: YAMLMap,
      resolve: (map) => longForm(tag, (map as YAMLMap).toJSON()),
    },
  ];
}

const CUSTOM_TAGS = Object.keys(SHORT_FORMS).flatMap(tagsFor);

/** Parses a CloudFormation/SAM template (YAML or JSON) into plain values with long-form intrinsics. */
export function parseCfnYaml(text: string): Record<string, unknown> {
  const doc: unknown = parse(text, { customTags: CUSTOM_TAGS, maxAliasCount: -1 });
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new Error('template: the document is not a mapping');
  }
  return doc as Record<string, unknown>;
}
