import { describe, expect, it } from 'vitest';

import { readdirSync, readFileSync } from 'node:fs';
import { foldedContent, sameContent } from '../src/cache/content-words.js';
import { compareSignatures, describeMismatches, extractSignature, type LexicalCheck } from '../src/cache/lexical.js';

/** Mismatching fields; the field tests use the signature check so that each shows one field. */
function mismatchFields(query: string, candidate: string, check: LexicalCheck = 'signature'): string[] {
  return compareSignatures(extractSignature(query), extractSignature(candidate), check).mismatches.map((mismatch) => mismatch.field);
}

function contentMismatch(query: string, candidate: string): boolean {
  return mismatchFields(query, candidate, 'content_words').includes('content');
}

describe('extractSignature', () => {
  it('finds numbers, signed and with separators', () => {
    const signature = extractSignature('Return -1 after 1,000 tries on Python 3.12, not x-2');
    expect(signature.numbers).toEqual(['-1', '1000', '2', '3.12']);
  });

  it('finds identifiers and flags', () => {
    const signature = extractSignature('Why does getUserById call os.path.join() with MAX_RETRIES and --force?');
    expect(signature.identifiers).toEqual(['--force', 'MAX_RETRIES', 'getUserById', 'os.path.join()']);
  });

  it('keeps technology names out of identifiers', () => {
    const signature = extractSignature('Deep copy in JavaScript');
    expect(signature.identifiers).toEqual([]);
    expect(signature.terms).toContain('javascript');
  });

  it('finds paths, file names and URLs', () => {
    const signature = extractSignature('Compare src/app.ts, ~/.bashrc, package.json, .env, Dockerfile and https://example.com/v1/x.');
    expect(signature.paths).toEqual(['.env', 'Dockerfile', 'https://example.com/v1/x', 'package.json', 'src/app.ts', '~/.bashrc']);
  });

  it('treats and/or and client/server as prose', () => {
    expect(extractSignature('Use async/await on the client/server and/or worker').paths).toEqual([]);
  });

  it('finds quoted strings but not apostrophes', () => {
    const signature = extractSignature(`Don't print "connection refused" or 'EOF' or “lỗi”`);
    expect(signature.quoted).toEqual(['EOF', 'connection refused', 'lỗi']);
    expect(signature.negations).toBe(1);
  });

  it('collapses whitespace in code', () => {
    const a = extractSignature('Why does ```py\nfor i in range(3):\n    print(i)\n``` fail?');
    const b = extractSignature('Why does ```python\nfor i in   range(3):\n  print(i)```  fail?');
    expect(a.code).toEqual(['for i in range(3): print(i)']);
    expect(b.code).toEqual(a.code);
  });

  it('files a lone name in backticks as an identifier', () => {
    expect(extractSignature('How do I use `useEffect`?').identifiers).toEqual(['useEffect']);
    expect(extractSignature('How do I use `useEffect`?').code).toEqual([]);
  });

  it('maps synonyms to one term', () => {
    expect(extractSignature('sign in to the app').terms).toEqual(['login']);
    expect(extractSignature('log in to the app').terms).toEqual(['login']);
    expect(extractSignature('Đăng nhập vào app').terms).toEqual(['login']);
    expect(extractSignature('Remove the row').terms).toEqual(extractSignature('delete the row').terms);
  });

  it('counts English and Vietnamese negations', () => {
    expect(extractSignature("It doesn't start and never stops, without logs").negations).toBe(3);
    expect(extractSignature('Container không khởi động').negations).toBe(1);
    expect(extractSignature('Đừng chạy với sudo').negations).toBe(1);
  });

  it('skips Vietnamese question particles', () => {
    expect(extractSignature('Python có hỗ trợ async không?').negations).toBe(0);
    expect(extractSignature('Build xong chưa?').negations).toBe(0);
    expect(extractSignature('Có nên commit lock file hay không').negations).toBe(0);
  });

  it('handles empty text', () => {
    const signature = extractSignature('');
    expect(signature.numbers).toEqual([]);
    expect(signature.negations).toBe(0);
  });
});

describe('compareSignatures', () => {
  it('accepts a paraphrase', () => {
    const comparison = compareSignatures(
      extractSignature('How do I select the top 10 rows in PostgreSQL?'),
      extractSignature('postgres: select top 10 rows'),
    );
    expect(comparison.equal).toBe(true);
    expect(comparison.mismatches).toEqual([]);
  });

  it('rejects Login vs Logout', () => {
    expect(mismatchFields('Fix the Login button', 'Fix the Logout button')).toEqual(['terms']);
  });

  it('rejects each kind of difference', () => {
    expect(mismatchFields('crash on line 42', 'crash on line 24')).toEqual(['numbers']);
    expect(mismatchFields('Why does returning -1 fail', 'Why does returning 1 fail')).toEqual(['numbers']);
    expect(mismatchFields('Test fetchOrders', 'Test fetchUsers')).toEqual(['identifiers']);
    expect(mismatchFields('Fix src/app.ts', 'Fix src/main.ts')).toEqual(['paths']);
    expect(mismatchFields('What does "EOF" mean', 'What does "EPIPE" mean')).toEqual(['quoted']);
    expect(mismatchFields('Explain `a < b`', 'Explain `a > b`')).toEqual(['code']);
    expect(mismatchFields('Reverse a list in Python', 'Reverse a list in Ruby')).toEqual(['terms']);
    expect(mismatchFields('Why is it restarting', 'Why is it not restarting')).toEqual(['negations']);
    expect(mismatchFields('Pay with Stripe', 'Pay with Adyen')).toEqual(['names']);
  });

  it('rejects a swapped conversion', () => {
    expect(mismatchFields('Convert JSON to YAML', 'Convert YAML to JSON')).toEqual(['terms', 'order']);
  });

  it('rejects the same words in another order', () => {
    expect(mismatchFields('Copy files from the server to my laptop', 'Copy files from my laptop to the server')).toEqual(['order']);
    expect(mismatchFields('Is Rust faster than C++?', 'Is C++ faster than Rust?')).toContain('order');
    expect(mismatchFields('Does the auth module depend on the db module?', 'Does the db module depend on the auth module?')).toEqual(['order']);
  });

  it('tells operators apart', () => {
    expect(mismatchFields('Difference between == and === in JavaScript', 'Difference between != and !== in JavaScript')).toContain('identifiers');
    expect(mismatchFields('Difference between == and === in JavaScript', 'What is the difference between == and === in JavaScript?')).toEqual([]);
  });

  it('tells JavaScript declarations apart', () => {
    expect(mismatchFields('What is the difference between let and const?', 'What is the difference between var and const?')).toContain('terms');
  });

  it('matches a name against a sentence-initial word', () => {
    expect(mismatchFields('Why does Stripe reject my card?', 'Stripe rejects my card, why?')).toEqual([]);
  });

  it('describes mismatches with values', () => {
    const comparison = compareSignatures(extractSignature('line 42, no logs'), extractSignature('line 24 logs'), 'signature');
    expect(describeMismatches(comparison.mismatches)).toBe(
      'numbers differ (query only: "42"; cached only: "24"); negations differ (1 vs 0)',
    );
  });
});

describe('content words check', () => {
  it('rejects word swaps no list names', () => {
    const swaps: Array<[string, string]> = [
      ['Deep clone an object in JavaScript', 'Shallow clone an object in JavaScript'],
      ['Show the diff of staged changes in git', 'Show the diff of unstaged changes in git'],
      ['Scale the deployment web to 3 replicas', 'Scale the deployment api to 3 replicas'],
      ['Make all properties optional in a TypeScript type', 'Make all properties required in a TypeScript type'],
      ['Regex to match exactly 5 digits', 'Regex to match at least 5 digits'],
    ];
    for (const [query, candidate] of swaps) {
      expect(mismatchFields(query, candidate, 'signature'), query).toEqual([]);
      expect(mismatchFields(query, candidate, 'content_words'), query).toEqual(['content']);
    }
  });

  it('ignores framing, articles and politeness', () => {
    expect(mismatchFields('How do I reverse a list in Python?', 'reverse a list in python', 'content_words')).toEqual([]);
    expect(mismatchFields('Can you please tell me how to rename the branch?', 'rename branch', 'content_words')).toEqual([]);
    expect(mismatchFields('What is the best way to exit vim?', 'How do I quit vim', 'content_words')).toEqual([]);
  });

  it('folds plurals and short forms only', () => {
    expect(contentMismatch('Delete old branches from the repo', 'delete old branch from the repository')).toBe(false);
    expect(contentMismatch('List the properties of an object', 'list property of object')).toBe(false);
    expect(contentMismatch('Why is it sorting twice', 'Why is it sorted twice')).toBe(true);
  });

  it('keeps words with one stem apart', () => {
    expect(contentMismatch('Difference between final and finally in Java', 'Difference between finally and finalize in Java')).toBe(true);
  });

  it('keeps sigils and lone operators', () => {
    expect(contentMismatch('How do I convert a String to &str in Rust?', 'How do I convert a &str to a String in Rust?')).toBe(true);
    expect(contentMismatch('Why is *args empty', 'Why is **args empty')).toBe(true);
    expect(contentMismatch('Why is a < b true here', 'Why is a > b true here')).toBe(true);
  });

  it('keeps symbols, operator positions and calls', () => {
    const different: Array<[string, string]> = [
      ['What does ✓ mean in the test output?', 'What does ✗ mean in the test output?'],
      ['Is a ≤ b here?', 'Is a ≥ b here?'],
      ['What does → mean in the diagram?', 'What does ← mean in the diagram?'],
      ['Why is the build 🔴 today?', 'Why is the build 🟢 today?'],
      ['Explain the ∀ quantifier', 'Explain the ∃ quantifier'],
      ['What is i++ in C?', 'What is ++i in C?'],
      ['What is arr[i+1] here?', 'What is arr[i]+1 here?'],
      ['What does the ? operator do in Rust?', 'What does the ! operator do in Rust?'],
      ['What does x?.y do?', 'What does x!.y do?'],
      ['What is 5!?', 'What is 5?'],
      ['What does rm -rf / do?', 'What does rm -rf ./ do?'],
      ['What is your name?', 'What is my name?'],
      ['Delete its child nodes', 'Delete my child nodes'],
      ['Regex for matching [a-z]+', 'Regex for matching [A-Z]+'],
      ['What does %m mean in strftime?', 'What does %M mean in strftime?'],
      ['What does X mean in chmod?', 'What does x mean in chmod?'],
      ['What does Map do in JavaScript?', 'What does map do in JavaScript?'],
      ['What is PATH in Linux?', 'What is path in Linux?'],
      ['What does $? contain in a bash script?', 'What does $! contain in a bash script?'],
      ['Explain $? in a shell script', 'Explain $- in a shell script'],
      ['Explain $? in a shell script', 'Explain $ in a shell script'],
    ];
    for (const [query, candidate] of different) {
      expect(compareSignatures(extractSignature(query), extractSignature(candidate)).equal, query).toBe(false);
    }
    expect(mismatchFields('Is user.name() a method?', 'Is user.name a method?', 'content_words')).toContain('identifiers');
  });

  it('lower-cases only a capitalized sentence start', () => {
    expect(contentMismatch('Reverse a list. Then sort it', 'reverse a list. then sort it')).toBe(false);
    expect(extractSignature('PATH is empty').content).toEqual(['PATH', 'empty']);
  });

  it('reads punctuation after a removed name as a sentence end', () => {
    expect(extractSignature('How do I reverse a list in Python?').content).toEqual(['reverse', 'list']);
    expect(contentMismatch('How do I reverse a list in Python?', 'reverse a list in python')).toBe(false);
    expect(contentMismatch('Run the tests (see `jest.config.js`).', 'Run the tests see jest.config.js')).toBe(false);
  });

  it('splits contractions', () => {
    expect(mismatchFields("Why can't I push to main?", 'Why cannot I push to main?', 'content_words')).toEqual([]);
    expect(mismatchFields("Why can't I push to main?", 'Why can not I push to main?', 'content_words')).toEqual([]);
    expect(mismatchFields("Don't track the build folder", 'Do not track the build directory', 'content_words')).toEqual([]);
    expect(extractSignature("What's the user's role").content).toEqual(['user', 'role']);
  });

  it('rejects a stored signature without content words', () => {
    const stored = extractSignature('reverse a list');
    delete stored.content;
    const comparison = compareSignatures(extractSignature('reverse a list'), stored, 'content_words');
    expect(comparison.mismatches.map((mismatch) => mismatch.field)).toEqual(['content']);
    expect(compareSignatures(extractSignature('reverse a list'), stored, 'signature').equal).toBe(true);
  });
});

describe('foldedContent', () => {
  it('is equal for plural variants', () => {
    const variants: Array<[string, string]> = [
      ['file', 'files'],
      ['class', 'classes'],
      ['cache', 'caches'],
      ['property', 'properties'],
      ['box', 'boxes'],
    ];
    for (const [singular, plural] of variants) {
      expect(sameContent([singular], [plural]), singular).toBe(true);
      expect(foldedContent([singular]), singular).toBe(foldedContent([plural]));
    }
  });

  it('agrees with sameContent on every labeled pair', () => {
    // The lookup selects candidates by folded content, so a pair sameContent accepts must fold
    // to one string, or the hit would never be found.
    const directory = new URL('./fixtures/cache/', import.meta.url);
    let accepted = 0;
    for (const file of readdirSync(directory).filter((name) => name.endsWith('.jsonl'))) {
      for (const line of readFileSync(new URL(file, directory), 'utf8').split('\n')) {
        if (line.trim() === '') continue;
        const pair = JSON.parse(line) as { id: string; a: string; b: string };
        const a = extractSignature(pair.a).content ?? [];
        const b = extractSignature(pair.b).content ?? [];
        if (!sameContent(a, b)) continue;
        accepted++;
        expect(foldedContent(a), pair.id).toBe(foldedContent(b));
      }
    }
    expect(accepted).toBeGreaterThan(200);
  });
});

