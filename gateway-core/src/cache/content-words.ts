/**
 * The content words of a prompt, in order: what is left of its prose once words that never
 * change the question are dropped ("how do I", articles, pronouns, politeness). A semantic hit
 * needs the same content words in the same order, where a word also equals its plural.
 *
 * The check works from an allowlist of words that may differ, not from a list of words that
 * must not. Any word outside the allowlist ("deep" and "shallow", "staged" and "unstaged",
 * "web" and "api") makes two prompts differ, so a swap that no list names still misses. The cost
 * is recall: paraphrases that use other words ("list" and "show") miss, because a false hit
 * serves a wrong answer and a false miss costs one upstream call.
 *
 * Words are not stemmed. The Porter stemmer gives "final", "finally" and "finalize" one stem,
 * three different Java keywords, and served one's answer for another on a hold-out set; plural
 * folding is the only reduction here.
 */

/**
 * Words that may appear in one prompt and not the other without changing what it asks. A word
 * belongs here only when no developer question turns on it: "by", "from", "or", "any", "all",
 * "why" and "when" are content, while "to", "in", "with" and "and" are not.
 */
const IGNORABLE_WORDS = new Set([
  // Articles, pronouns and demonstratives. The asker's own "my" and "our" may go, but "your",
  // "its" and "their" stay, because "my name" and "your name" ask about different things. "you"
  // goes, because it is mostly the framing of "can you".
  'a', 'an', 'the', 'i', 'me', 'my', 'mine', 'myself', 'we', 'us', 'our', 'you', 'it', 'this',
  'that', 'these', 'those', 'there', 'here', 'someone', 'somebody',
  // Auxiliary verbs, and the modal verbs a paraphrase swaps freely. "should", "must" and "may"
  // stay, because "should I" asks for advice and "can I" asks what is possible. The "ca" and "wo"
  // are what remains of "can't" and "won't" once their "not" is split off.
  'do', 'does', 'did', 'can', 'could', 'would', 'will', 'is', 'are', 'am', 'was', 'were', 'be',
  'been', 'being', 'ca', 'wo',
  // Question framing, politeness and filler.
  'how', 'what', 'way', 'ways', 'please', 'pls', 'thanks', 'thank', 'hi', 'hello', 'hey',
  'question', 'help', 'need', 'want', 'wanna', 'like', 'just', 'possible', 'able',
  'best', 'easiest', 'simplest', 'properly', 'correctly', 'go', 'about',
  'trying', 'tell', 'explain', 'so', 'actually', 'basically', 'anyone', 'know', 'idea',
  'command', 'syntax', 'specific', 'particular', 'certain', 'given',
  // Prepositions and conjunctions that paraphrases drop or swap freely.
  'to', 'into', 'of', 'in', 'on', 'for', 'with', 'using', 'via', 'at', 'and', 'inside', 'within',
  'between',
  // Vietnamese question framing, pronouns and particles.
  'cách', 'làm', 'sao', 'thế', 'nào', 'tôi', 'mình', 'em', 'anh', 'bạn', 'là', 'gì', 'ạ',
  'nhỉ', 'vậy', 'được', 'có', 'một', 'các', 'những', 'của', 'để', 'trong', 'với', 'bằng', 'và',
  'hãy', 'giúp', 'muốn', 'cần', 'thì',
]);

/**
 * Short forms and synonyms that mean the same in a developer question, mapped to one form, so
 * "repo" and "repository" compare equal. A pair joins only when no question turns on the
 * difference and neither word names a type, command or keyword. So "str" is not "string" in Rust,
 * "int" is not "Integer" in Java, "dir" is a command, and "resolve" is not "fix" for DNS.
 */
const SAME_WORDS: Record<string, string> = {
  quit: 'exit',
  big: 'large',
  bigger: 'larger',
  biggest: 'largest',
  see: 'view',
  verify: 'check',
  determine: 'check',
  make: 'create',
  generate: 'create',
  solve: 'fix',
  retrieve: 'get',
  obtain: 'get',
  every: 'all',
  vs: 'difference',
  versus: 'difference',
  different: 'difference',
  differ: 'difference',
  folder: 'directory',
  folders: 'directories',
  repo: 'repository',
  repos: 'repositories',
  app: 'application',
  apps: 'applications',
  db: 'database',
  dbs: 'databases',
  arg: 'argument',
  args: 'arguments',
  param: 'parameter',
  params: 'parameters',
  msg: 'message',
  whether: 'if',
  cannot: 'not',
};

/**
 * Returns the text with each word of the synonym list replaced by its one form, keeping
 * everything else, so that a wording-based embedder scores "quit vim" and "exit vim" alike.
 */
export function withOneFormOfSynonyms(text: string): string {
  return text.replace(/[\p{L}\p{N}_]+/gu, (word) => SAME_WORDS[word.toLowerCase()] ?? word);
}

/** Mark the lexical extraction leaves in place of a name, path, quote or code it took out. */
export const REMOVED = '\uE000';

const WORD = /[\p{L}\p{N}_]+(?:'\p{L}+)?/gu;
const SENTENCE_PUNCTUATION = /^[.,;:?!"'”’»“‘«()]+$/u;
const SENTENCE_END = /[.?!:][)"'”’»\]]*$/u;
/** A word with only its first letter in upper case, which a sentence start explains. */
const CAPITALIZED = /^\p{Lu}[\p{Ll}\p{N}_']*$/u;
/** Characters of plain prose words; a chunk with any other character is read as code. */
const PROSE_CHUNK = /^[\p{L}\p{N}\p{M}_'-]+$/u;
const HAS_WORD_CHARACTER = /[\p{L}\p{N}]/u;

/**
 * Returns the content tokens of prose in order. The caller removes code, quotes, paths,
 * identifiers and technology names first, because those are compared on their own.
 *
 * Letter case is kept, because "Map" and "map", "PATH" and "path" or "%m" and "%M" differ. Only a
 * capitalized word that starts a sentence is lower-cased.
 *
 * The prose is read in whitespace-separated chunks. A chunk of letters, digits, hyphens and
 * apostrophes gives its words, minus the ignorable ones. Any other chunk is kept whole as one
 * token, because its symbols carry meaning the words do not. So "i++" is not "++i", "&str" is
 * not "str", "x?.y" is not "x!.y", and a lone "≤", "→" or emoji is not another one.
 */
export function contentWords(prose: string): string[] {
  const words: string[] = [];
  let sentenceStart = true;
  for (const markedChunk of prose.split(/\s+/u)) {
    const rawChunk = markedChunk.replaceAll(REMOVED, '');
    const atStart = sentenceStart;
    if (markedChunk !== '') sentenceStart = SENTENCE_END.test(markedChunk);
    if (rawChunk === '') continue;
    // Punctuation left after a removed name ends that name's sentence, as "?" in "in Python?".
    if (rawChunk !== markedChunk && SENTENCE_PUNCTUATION.test(rawChunk)) continue;
    const chunk = HAS_WORD_CHARACTER.test(rawChunk) ? trimSentencePunctuation(rawChunk) : rawChunk;
    if (chunk === '') continue;
    if (!PROSE_CHUNK.test(chunk)) {
      words.push(chunk);
      continue;
    }
    let first = atStart;
    for (const match of chunk.matchAll(WORD)) {
      for (const word of splitContraction(match[0])) {
        const lower = word.toLowerCase();
        const asWritten = first && CAPITALIZED.test(word) ? lower : word;
        first = false;
        if (IGNORABLE_WORDS.has(lower)) continue;
        words.push(SAME_WORDS[lower] ?? asWritten);
      }
    }
  }
  return words;
}

/**
 * Drops the punctuation a sentence puts around a word: trailing . , ; : ? and closing quotes,
 * leading opening quotes, and brackets that do not pair up inside the chunk ("(see" and
 * "docs)"), but not the "()" of "run()". A trailing "!" stays, because "5!" is a factorial.
 */
function trimSentencePunctuation(chunk: string): string {
  let text = chunk.replace(/[.,;:?"'”’»]+$/u, '').replace(/^["'“‘«]+/u, '');
  const count = (character: string): number => text.split(character).length - 1;
  while (text.endsWith(')') && count(')') > count('(')) text = text.slice(0, -1).replace(/[.,;:?]+$/u, '');
  while (text.startsWith('(') && count('(') > count(')')) text = text.slice(1);
  while (text.endsWith(']') && count(']') > count('[')) text = text.slice(0, -1).replace(/[.,;:?]+$/u, '');
  while (text.startsWith('[') && count('[') > count(']')) text = text.slice(1);
  return text;
}

/** Returns whether two content word lists are equal, word by word, where a word equals its plural. */
export function sameContent(left: readonly string[], right: readonly string[]): boolean {
  if (left.length !== right.length) return false;
  return left.every((word, index) => sameWord(word, right[index] ?? ''));
}

/**
 * Returns one string for a content word list that is equal for any two lists sameContent
 * accepts, so it can select candidates by equality. Trailing "s" and "e" letters are dropped and
 * a final "i" becomes "y", so "properties" and "property" both become "property" and "caches"
 * becomes "cach". That is coarser than sameContent, so the candidates still need sameContent.
 */
export function foldedContent(words: readonly string[]): string {
  return words.map((word) => word.replace(/[se]+$/, '').replace(/i$/, 'y')).join(' ');
}

/**
 * Compares two words, treating "file" and "files", "class" and "classes", "property" and
 * "properties" as one. Stems shorter than three letters never fold, so "it" and "its" or "io"
 * and "ios" stay apart.
 */
function sameWord(left: string, right: string): boolean {
  if (left === right) return true;
  const [short, long] = left.length < right.length ? [left, right] : [right, left];
  if (short.length < 3) return false;
  if (long === `${short}s` || long === `${short}es`) return true;
  return short.endsWith('y') && long === `${short.slice(0, -1)}ies`;
}

/**
 * Splits "don't" into "do" and "not", and drops the "'s", "'re", "'ll", "'ve", "'d" and "'m" of
 * "what's", "they're" or "user's", which add nothing a question turns on.
 */
function splitContraction(word: string): string[] {
  const apostrophe = word.indexOf("'");
  if (apostrophe < 0) return [word];
  const head = word.slice(0, apostrophe);
  const tail = word.slice(apostrophe + 1);
  if (tail === 't' && head.endsWith('n')) return [head.slice(0, -1), 'not'];
  return [head];
}
