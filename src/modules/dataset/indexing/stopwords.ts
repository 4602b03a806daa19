/**
 * Words that say nothing about a segment: left out of keywords and of full-text queries. English
 * (the usual list) and common Chinese function words; jieba's own list is English only and its
 * keyword extraction already skips one-character words.
 */
export const STOPWORDS: ReadonlySet<string> = new Set(
  [
    // English
    'a about above after again against all am an and any are aren as at be because been before',
    'being below between both but by can cannot could couldn did didn do does doesn doing don',
    'down during each etc few for from further had hadn has hasn have haven having he her here',
    'hers herself him himself his how however i if in into is isn it its itself just let ll me',
    'more most mustn my myself no nor not now of off on once only or other ought our ours',
    'ourselves out over own re same shall shan she should shouldn so some such than that the',
    'their theirs them themselves then there these they this those through to too under until',
    'up upon us ve very via was wasn we were weren what when where which while who whom why',
    'will with won would wouldn yet you your yours yourself yourselves also may might must',
    'one two use used using get got s t d m',
    // Chinese
    '的 了 是 在 和 与 及 或 也 就 都 而 及其 之 其 此 这 那 有 被 把 让 给 对 从 向 为 以 于',
    '我 你 他 她 它 我们 你们 他们 她们 它们 自己 什么 怎么 怎样 如何 哪 哪里 哪些 为什么',
    '这个 那个 这些 那些 这样 那样 这里 那里 一个 一些 一种 一样 可以 可能 能够 应该 需要',
    '没有 不是 就是 还是 但是 而且 并且 或者 因为 所以 因此 如果 虽然 然后 而是 只是 以及',
    '已经 正在 进行 通过 关于 对于 根据 由于 等等 之后 之前 以后 以前 时候 还有 并 等 吗 呢',
    '吧 啊 呀 哦 嗯 很 更 最 又 再 还 才 只 个 些 上 下 中 里 内 外 不 没 会 要 能 将 着 过 得 地',
  ]
    .join(' ')
    .split(' '),
);
