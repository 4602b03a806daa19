import { cleanText } from './cleaner';
import { DEFAULT_PROCESS_RULE, type ProcessRule } from './pipeline.types';

const rule = (spaces: boolean, urls: boolean): ProcessRule => ({
  ...DEFAULT_PROCESS_RULE,
  pre_process_rules: [
    { id: 'remove_extra_space', enabled: spaces },
    { id: 'remove_url_and_email', enabled: urls },
  ],
});
const NONE = rule(false, false);

describe('cleanText', () => {
  it('always normalises newlines and drops control characters except \\n and \\t', () => {
    expect(cleanText('a\r\nb\rc\u0000d\u0007e\tf\u001Fg\u007Fh\uFEFFi\fj\vk', NONE)).toBe(
      'a\nb\ncde\tfghijk',
    );
  });

  it('always replaces broken surrogates and collapses runs of replacement characters', () => {
    expect(cleanText('x\uD83Dy\uDC4Dz 👍', NONE)).toBe('x\uFFFDy\uFFFDz 👍');
    expect(cleanText('a\uFFFD\uFFFD\uFFFDb', NONE)).toBe('a\uFFFDb');
  });

  it('always defuses model special-token markers', () => {
    expect(cleanText('x <|endoftext|> y', NONE)).toBe('x <endoftext> y');
  });

  it('remove_extra_space collapses blank lines and runs of spaces and tabs', () => {
    const text = 'one  two\t\tthree\u3000\u3000四\n\n\n\nfive   \n \n\n six';
    expect(cleanText(text, rule(true, false))).toBe('one two three 四\n\nfive\n\n six');
    // Disabled: untouched apart from the fixed steps.
    expect(cleanText(text, NONE)).toBe(text);
  });

  it('remove_url_and_email removes URLs and emails, and the empty links they leave', () => {
    const text =
      'Mail me at jane.doe+kb@example.co.uk or visit https://example.com/a?b=1#c now.\n' +
      '详见https://example.cn/docs。然后继续，邮箱 张三 zhang_san@corp.cn 。\n' +
      'See [the docs](https://x.io/d "Docs") and ![logo](http://x.io/l.png).';
    expect(cleanText(text, rule(false, true))).toBe(
      'Mail me at  or visit  now.\n详见。然后继续，邮箱 张三  。\nSee the docs and .',
    );
    expect(cleanText(text, NONE)).toBe(text);
  });

  it('applies both rules together', () => {
    expect(cleanText('a https://x.io   b\n\n\n\nc', rule(true, true))).toBe('a b\n\nc');
  });
});
