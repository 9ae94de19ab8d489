/**
 * Word lists of the lexical check: technology names with the aliases a paraphrase may use, and
 * contrast words (login and logout, enable and disable) that make two prompts ask different
 * things however similar the rest is.
 */
export const WORD_CHAR = String.raw`[\p{L}\p{N}_]`;
export const BEFORE = `(?<!${WORD_CHAR})`;
export const AFTER = `(?!${WORD_CHAR})`;

/** Technology names, with the aliases a paraphrase may use for them. */
const TECHNOLOGY_TERMS: Record<string, string> = {
  python: 'python|py|python3',
  javascript: 'javascript|js|node\\.?js|node',
  typescript: 'typescript|ts',
  java: 'java',
  kotlin: 'kotlin',
  golang: 'golang',
  rust: 'rust',
  'c++': 'c\\+\\+|cpp',
  'c#': 'c#|csharp|\\.net|dotnet',
  ruby: 'ruby',
  php: 'php',
  swift: 'swift',
  scala: 'scala',
  bash: 'bash|shell script|sh',
  zsh: 'zsh',
  powershell: 'powershell',
  postgresql: 'postgresql|postgres|psql|pg',
  mysql: 'mysql',
  mariadb: 'mariadb',
  sqlite: 'sqlite3?',
  mongodb: 'mongodb|mongo',
  redis: 'redis',
  oracle: 'oracle',
  'sql server': 'sql server|mssql|t-sql',
  elasticsearch: 'elasticsearch|elastic',
  kafka: 'kafka',
  rabbitmq: 'rabbitmq',
  react: 'react(?:\\.js|js)?',
  vue: 'vue(?:\\.js|js)?',
  angular: 'angular',
  svelte: 'svelte',
  nextjs: 'next\\.?js',
  django: 'django',
  flask: 'flask',
  fastapi: 'fastapi',
  spring: 'spring(?: boot)?',
  rails: 'rails|ruby on rails',
  express: 'express(?:\\.js|js)?',
  laravel: 'laravel',
  docker: 'docker',
  kubernetes: 'kubernetes|k8s|kubectl',
  git: 'git',
  github: 'github',
  gitlab: 'gitlab',
  npm: 'npm',
  yarn: 'yarn',
  pnpm: 'pnpm',
  pip: 'pip3?',
  poetry: 'poetry',
  conda: 'conda',
  webpack: 'webpack',
  vite: 'vite',
  jest: 'jest',
  vitest: 'vitest',
  pytest: 'pytest',
  junit: 'junit',
  aws: 'aws|amazon web services',
  gcp: 'gcp|google cloud',
  azure: 'azure',
  linux: 'linux',
  ubuntu: 'ubuntu',
  debian: 'debian',
  alpine: 'alpine',
  centos: 'centos',
  macos: 'macos|mac os|osx|mac',
  windows: 'windows',
  android: 'android',
  ios: 'ios',
  chrome: 'chrome',
  firefox: 'firefox',
  safari: 'safari',
  json: 'json',
  yaml: 'yaml|yml',
  xml: 'xml',
  csv: 'csv',
  toml: 'toml',
  nginx: 'nginx',
  apache: 'apache',
  pandas: 'pandas',
  numpy: 'numpy',
  terraform: 'terraform',
  ansible: 'ansible',
  graphql: 'graphql',
  grpc: 'grpc',
  websocket: 'websockets?',
  http: 'http',
  https: 'https',
  tcp: 'tcp',
  udp: 'udp',
  utc: 'utc',
};

const TECHNOLOGY_MATCHERS = Object.entries(TECHNOLOGY_TERMS).map(([term, alternatives]) => ({
  term,
  pattern: new RegExp(`^(?:${alternatives})$`, 'iu'),
}));

/** Returns the canonical technology name for a single word, or undefined. */
export function canonicalTechnology(word: string): string | undefined {
  return TECHNOLOGY_MATCHERS.find((matcher) => matcher.pattern.test(word))?.term;
}

const VERB_ENDING = '(?:s|es|d|ed|ing)?';
// For stems that drop a final e: "enabl" matches enable, enables, enabled and enabling.
const E_VERB_ENDING = '(?:e|es|ed|ing)';

const IO_OBJECTS =
  '(?:files?|disk|streams?|bytes|data|stdin|stdout|stderr|cookies?|memory|database|db|csv|json|buffers?|sockets?|registers?)';

// NOTE: this list is hand-written and incomplete. A swap it does not list ("sort" for
// "reverse", "lines" for "words") passes the signature check; only the content-words check,
// the default, stops it.
/**
 * Words whose swap for their opposite keeps a prompt's shape but reverses what it asks.
 * Each alternation is one canonical term; near-synonyms share a term so that a paraphrase
 * still matches.
 */
const CONTRAST_TERMS: Record<string, string> = {
  // JavaScript's declaration keywords: a question about let is not one about var.
  let: String.raw`let`,
  var: String.raw`var`,
  const: String.raw`const`,
  login: `log(?:s|ged|ging)? ?(?:in|into)|login${VERB_ENDING}|sign(?:s|ed|ing)? ?in|signin|đăng nhập`,
  logout: `log(?:s|ged|ging)? ?out|logout${VERB_ENDING}|sign(?:s|ed|ing)? ?out|signout|đăng xuất`,
  signup: `sign(?:s|ed|ing)? ?up|signup|register${VERB_ENDING}|registration|đăng ký|đăng kí`,
  enable: `enabl${E_VERB_ENDING}|turn(?:s|ed|ing)? on|bật`,
  disable: `disabl${E_VERB_ENDING}|turn(?:s|ed|ing)? off|tắt`,
  add: `add${VERB_ENDING}|thêm`,
  remove: `remov${E_VERB_ENDING}|delet${E_VERB_ENDING}|xóa|xoá`,
  drop: `drop(?:s|ped|ping)?`,
  truncate: `truncat${E_VERB_ENDING}`,
  increase: `increas${E_VERB_ENDING}|tăng`,
  decrease: `decreas${E_VERB_ENDING}|reduc${E_VERB_ENDING}|giảm`,
  upload: `upload${VERB_ENDING}|tải lên`,
  download: `download${VERB_ENDING}|tải xuống|tải về`,
  import: `import${VERB_ENDING}`,
  export: `export${VERB_ENDING}`,
  encrypt: `encrypt${VERB_ENDING}|encryption|mã hóa|mã hoá`,
  decrypt: `decrypt${VERB_ENDING}|decryption|giải mã`,
  encode: `encod${E_VERB_ENDING}|encoding`,
  decode: `decod${E_VERB_ENDING}|decoding`,
  serialize: `seriali[sz]${E_VERB_ENDING}|serialization`,
  deserialize: `deseriali[sz]${E_VERB_ENDING}|deserialization`,
  compress: `compress${VERB_ENDING}|compression`,
  decompress: `decompress${VERB_ENDING}|decompression|unzip${VERB_ENDING}`,
  push: `push${VERB_ENDING}`,
  pull: `pull${VERB_ENDING}`,
  merge: `merg${E_VERB_ENDING}`,
  rebase: `rebas${E_VERB_ENDING}`,
  start: `start${VERB_ENDING}`,
  stop: `stop(?:s|ped|ping)?`,
  restart: `restart${VERB_ENDING}`,
  open: `open${VERB_ENDING}`,
  close: `clos${E_VERB_ENDING}`,
  // "show me how to" is a polite filler, not the opposite of "hide".
  show: `show${VERB_ENDING}(?!${WORD_CHAR})(?! (?:me|us) )|shown|hiện`,
  hide: `hid(?:e|es|den|ing)|ẩn`,
  lock: `lock${VERB_ENDING}`,
  unlock: `unlock${VERB_ENDING}`,
  mount: `mount${VERB_ENDING}`,
  unmount: `unmount${VERB_ENDING}`,
  install: `install${VERB_ENDING}|cài đặt|cài`,
  uninstall: `uninstall${VERB_ENDING}|gỡ cài đặt|gỡ`,
  before: 'before|trước',
  after: 'after|sau',
  first: 'first|đầu tiên',
  last: 'last|cuối cùng',
  minimum: 'min|minimum|nhỏ nhất',
  maximum: 'max|maximum|lớn nhất',
  ascending: 'asc|ascending|tăng dần',
  descending: 'desc|descending|giảm dần',
  left: 'left',
  right: 'right',
  inner: 'inner',
  outer: 'outer',
  uppercase: 'upper ?case|upper|chữ hoa',
  lowercase: 'lower ?case|lower|chữ thường',
  synchronous: 'sync|synchronous|synchronously',
  asynchronous: 'async|asynchronous|asynchronously',
  public: 'public',
  private: 'private',
  // "Write a function" is a request for code, so read and write count only before an I/O object.
  read: `(?:read|reads|reading) (?:(?:a|an|the|to|from|into|my|this) )?${IO_OBJECTS}|đọc`,
  write: `(?:write|writes|writing|wrote) (?:(?:a|an|the|to|from|into|my|this) )?${IO_OBJECTS}|ghi`,
  copy: `cop(?:y|ies|ied|ying)|sao chép`,
  move: `mov${E_VERB_ENDING}|di chuyển`,
  split: `split(?:s|ting)?|tách`,
  join: `join${VERB_ENDING}|nối`,
  client: 'client|clients',
  server: 'server|servers',
  frontend: 'front-?end',
  backend: 'back-?end',
  horizontal: 'horizontal|horizontally',
  vertical: 'vertical|vertically',
  true: 'true',
  false: 'false',
  input: 'input|inputs',
  output: 'output|outputs',
  local: 'local|locally',
  remote: 'remote|remotely',
  staging: 'staging',
  production: 'production|prod',
  development: 'development|dev',
  valid: 'valid',
  invalid: 'invalid',
  success: 'success|succeeds?|successful',
  failure: 'failure|fails?|failed|failing',
  allow: `allow${VERB_ENDING}|cho phép`,
  deny: `deny|denies|denied|block${VERB_ENDING}|chặn`,
  include: `includ${E_VERB_ENDING}|bao gồm`,
  exclude: `exclud${E_VERB_ENDING}|excepts?|loại trừ|ngoại trừ`,
  row: 'rows?|hàng',
  column: 'columns?|cột',
  width: 'width|chiều rộng',
  height: 'height|chiều cao',
  seconds: 'seconds?|secs?|giây',
  milliseconds: 'milliseconds?|ms',
  minutes: 'minutes?|mins?|phút',
  hours: 'hours?|giờ',
  days: 'days?|ngày',
  bytes: 'bytes?',
  kilobytes: 'kilobytes?|kb',
  megabytes: 'megabytes?|mb',
  gigabytes: 'gigabytes?|gb',
};

export interface TermMatcher {
  term: string;
  pattern: RegExp;
}

function buildTermMatchers(table: Record<string, string>, flags: string): TermMatcher[] {
  return Object.entries(table).map(([term, alternatives]) => ({
    term,
    pattern: new RegExp(`${BEFORE}(?:${alternatives})${AFTER}`, flags),
  }));
}

// Contrast words and most names match in any case. "Go" is matched only capitalized, because
// lower-case "go" is the English verb.
export const TERM_MATCHERS: TermMatcher[] = [
  ...buildTermMatchers(CONTRAST_TERMS, 'giu'),
  ...buildTermMatchers(TECHNOLOGY_TERMS, 'giu'),
  { term: 'golang', pattern: new RegExp(`${BEFORE}Go${AFTER}`, 'gu') },
];
