import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { fixturePath, HAS_SHARED_FIXTURES, SKIPPED_WITHOUT_FIXTURES } from '../../test/helpers/fixtures.js';
import type { StoredCandle } from '../domain/candle.js';
import { MAX_DECIMAL_LENGTH } from '../domain/decimal.js';
import { decodeFrame, decodeFrameDetailed, MAX_FRAME_BYTES } from './decode.js';
import type { MarketEvent, MiniTicker } from './events.js';

/** BINANCE.md section 1.5, verbatim (kline_1m.json), so the logic is covered without ../shared. */
const DOC_KLINE = JSON.parse(
  '{"e":"kline","E":1672515782136,"s":"BNBBTC","k":{"t":1672515780000,"T":1672515839999,"s":"BNBBTC",' +
    '"i":"1m","f":100,"L":200,"o":"0.0010","c":"0.0020","h":"0.0025","l":"0.0015","v":"1000","n":100,' +
    '"x":false,"q":"1.0000","V":"500","Q":"0.500","B":"123456"}}',
) as { k: object };
const DOC_CANDLE: StoredCandle = {
  symbol: 'BNBBTC',
  interval: '1m',
  openTime: 1672515780000,
  closeTime: 1672515839999,
  open: '0.001',
  high: '0.0025',
  low: '0.0015',
  close: '0.002',
  volume: '1000',
  quoteVolume: '1',
  trades: 100,
  takerBuyVolume: '500',
  takerBuyQuoteVolume: '0.5',
  closed: false,
  eventTime: 1672515782136,
};
/** BINANCE.md section 1.6, verbatim (miniTicker.json). */
const DOC_MINI_TICKER = JSON.parse(
  '{"e":"24hrMiniTicker","E":1672515782136,"s":"BNBBTC","c":"0.0025","o":"0.0010","h":"0.0025",' +
    '"l":"0.0010","v":"10000","q":"18"}',
) as object;
/** Mini tickers keep Binance's exact text (not canonicalized: a hot path; see events.ts). */
const DOC_TICKER: MiniTicker = {
  symbol: 'BNBBTC',
  eventTime: 1672515782136,
  close: '0.0025',
  open: '0.0010',
  high: '0.0025',
  low: '0.0010',
  volume: '10000',
  quoteVolume: '18',
};
/** The first kline_1m frame of ws-recordings/cryptofeed_BINANCE.ws.1.0.txt, decoded by hand. */
const NKNUSDT_CANDLE: StoredCandle = {
  symbol: 'NKNUSDT',
  interval: '1m',
  openTime: 1633998480000,
  closeTime: 1633998539999,
  open: '0.3527',
  high: '0.3528',
  low: '0.3522',
  close: '0.3528',
  volume: '25877',
  quoteVolume: '9116.046',
  trades: 30,
  takerBuyVolume: '58',
  takerBuyQuoteVolume: '20.4624',
  closed: false,
  eventTime: 1633998523963,
};
const KLINE_STREAM = 'bnbbtc@kline_1m';
const ARR = '!miniTicker@arr';

function combined(stream: string, data: unknown): string {
  return JSON.stringify({ stream, data });
}

/** The documented kline in its envelope, with some fields of `k` or of the event replaced. */
function klineFrame(k: object = {}, event: object = {}, stream = KLINE_STREAM): string {
  return combined(stream, { ...DOC_KLINE, ...event, k: { ...DOC_KLINE.k, ...k } });
}

function tickerFrame(tickers: unknown[]): string {
  return combined(ARR, tickers);
}

function decoded(text: string): MarketEvent {
  const result = decodeFrame(text);
  if (!result.ok) throw new Error(`rejected: ${result.reason}`);
  return result.event;
}

function rejection(text: string): string {
  const result = decodeFrame(text);
  if (result.ok) throw new Error(`accepted: ${text.slice(0, 200)}`);
  return result.reason;
}

function readFixture(relative: string): string {
  return readFileSync(fixturePath(relative), 'utf8');
}

describe('decodeFrame on the documented payloads (BINANCE.md sections 1.5, 1.6, 2.3)', () => {
  it('turns a combined 1m kline into a stored candle with canonical decimals', () => {
    expect(decoded(klineFrame())).toEqual({ type: 'kline', stream: KLINE_STREAM, candle: DOC_CANDLE });
  });

  it('marks the candle closed when the kline says x:true', () => {
    expect(decoded(klineFrame({ x: true }))).toMatchObject({ candle: { closed: true } });
  });

  it('writes zero and padded decimals canonically', () => {
    const event = decoded(klineFrame({ o: '00012.50000000', v: '0.00000000', n: 0 }));
    expect(event).toMatchObject({ candle: { open: '12.5', volume: '0', trades: 0 } });
  });

  it('turns !miniTicker@arr into mini tickers, non-ASCII symbols included (BINANCE.md section 1.2)', () => {
    const unicode = { ...DOC_MINI_TICKER, s: '币安人生USDT' };
    expect(decoded(tickerFrame([DOC_MINI_TICKER, unicode]))).toEqual({
      type: 'miniTickers',
      stream: ARR,
      tickers: [DOC_TICKER, { ...DOC_TICKER, symbol: '币安人生USDT' }],
    });
  });

  it('routes a kline of a non-ASCII symbol by its lower-case stream name', () => {
    const event = decoded(klineFrame({ s: '币安人生USDT' }, { s: '币安人生USDT' }, '币安人生usdt@kline_1m'));
    expect(event).toMatchObject({ stream: '币安人生usdt@kline_1m', candle: { symbol: '币安人生USDT' } });
  });

  it('decodes serverShutdown in its combined and its raw form', () => {
    const expected = { type: 'serverShutdown', eventTime: 1770123456789 };
    const raw = '{"e":"serverShutdown","E":1770123456789}';
    expect(decoded(`{"stream":"!serverShutdown","data":${raw}}`)).toEqual(expected);
    expect(decoded(raw)).toEqual(expected);
  });

  it.each([
    ['{"result":null,"id":1}', 1, null],
    ['{"result":null,"id":312}', 312, null],
    ['{"result":["btcusdt@aggTrade"],"id":3}', 3, ['btcusdt@aggTrade']],
    ['{"result":true,"id":2}', 2, true],
    ['{"result":null,"id":-9007199254740991}', -9007199254740991, null],
    [`{"result":null,"id":"${'a1'.repeat(18)}"}`, 'a1'.repeat(18), null],
    ['{"result":null,"id":null}', null, null],
  ])('decodes the control reply %s', (text, id, result) => {
    expect(decoded(text)).toEqual({ type: 'reply', id, result });
  });

  it.each([
    ['{"code": 0, "msg": "Unknown property","id": 7}', 7, 0],
    ['{"code": 1, "msg": "Invalid value type: expected Boolean"}', null, 1],
    ['{"code":3,"msg":"Invalid JSON: expected value at line 1 column 1","id":"req42"}', 'req42', 3],
  ])('decodes the control error %s', (text, id, code) => {
    const message = (JSON.parse(text) as { msg: string }).msg;
    expect(decoded(text)).toEqual({ type: 'controlError', id, code, message });
  });

  it("does not mistake the 24hrTicker (whose x is a price) or retired !ticker@arr for what's decoded", () => {
    const ticker = { ...DOC_MINI_TICKER, e: '24hrTicker', x: '0.0009' };
    expect(rejection(combined('bnbbtc@ticker', ticker))).toMatch(/unexpected stream/);
    expect(rejection(combined('!ticker@arr', [ticker]))).toMatch(/unexpected stream/);
    expect(rejection(combined(KLINE_STREAM, ticker))).toMatch(/carries event "24hrTicker"/);
    expect(rejection(tickerFrame([ticker]))).toMatch(/is not 24hrMiniTicker/);
  });

  it('rejects market payloads that arrive without the combined envelope', () => {
    expect(rejection(JSON.stringify(DOC_KLINE))).toMatch(/outside the combined envelope/);
    expect(rejection(JSON.stringify([DOC_MINI_TICKER]))).toMatch(/array/);
  });
});

describe('decodeFrame on hostile and malformed frames', () => {
  const deepArray = '['.repeat(200_000) + ']'.repeat(200_000);
  const deepObject = `{"stream":"${KLINE_STREAM}","data":${'{"k":'.repeat(100_000)}1${'}'.repeat(100_000)}}`;
  const cases: [string, string, RegExp][] = [
    ['truncated JSON', klineFrame().slice(0, 120), /invalid JSON/],
    ['an empty frame', '', /invalid JSON/],
    ['null', 'null', /not an object/],
    ['a number', '42', /not an object/],
    ['a string', '"kline"', /not an object/],
    ['an array', '[1,2]', /array/],
    ['an unknown envelope', '{"foo":1}', /unknown envelope/],
    ['a stream that is not a string', '{"stream":5,"data":{}}', /stream is not a string/],
    ['a subscription never made', combined('btcusdt@depth', {}), /unexpected stream btcusdt@depth/],
    [
      'a 1h kline stream',
      klineFrame({ i: '1h', T: 1672519379999 }, {}, 'bnbbtc@kline_1h'),
      /unexpected stream/,
    ],
    ['a 1h kline on the 1m stream', klineFrame({ i: '1h' }), /interval "1h" is not 1m/],
    ['a monthly kline (1M is not 1m)', klineFrame({ i: '1M' }), /interval "1M"/],
    ['a stream of another symbol', klineFrame({}, {}, 'ethusdt@kline_1m'), /carries symbol BNBBTC/],
    ['an upper-case stream name', klineFrame({}, {}, 'BNBBTC@kline_1m'), /carries symbol/],
    ['a lower-case symbol', klineFrame({ s: 'bnbbtc' }, { s: 'bnbbtc' }, KLINE_STREAM), /is not a symbol/],
    ['k.s unlike s', klineFrame({ s: 'ETHBTC' }), /k.s does not match s/],
    ['a number for a price', klineFrame({ o: 0.001 }), /k.o number 0.001 is not a plain decimal/],
    ['an exponent', klineFrame({ v: '1e5' }), /k.v "1e5" is not a plain decimal/],
    ['NaN', klineFrame({ c: 'NaN' }), /k.c "NaN"/],
    ['Infinity', klineFrame({ h: 'Infinity' }), /k.h/],
    ['a hex price', klineFrame({ l: '0x10' }), /k.l/],
    ['an empty decimal', klineFrame({ q: '' }), /k.q/],
    ['a decimal with spaces', klineFrame({ V: ' 1' }), /k.V/],
    ['a decimal with no digits after the point', klineFrame({ Q: '1.' }), /k.Q/],
    ['a huge decimal string', klineFrame({ o: '9'.repeat(MAX_DECIMAL_LENGTH + 1) }), /k.o "9{64}…"/],
    // Short enough, but the rollups summing it would be too long to read back (decimal.ts).
    ['a decimal of 62 fractional digits', klineFrame({ q: `1.${'0'.repeat(60)}1` }), /k.q "1.0{60}1"/],
    ['a huge symbol', klineFrame({}, { s: 'A'.repeat(100_000) }), /is not a symbol/],
    ['a huge stream name', combined('x'.repeat(100_000), {}), /unexpected stream x{64}…$/],
    ['a negative volume', klineFrame({ v: '-1000' }), /k.v is negative/],
    ['a negative taker volume', klineFrame({ Q: '-0.5' }), /k.Q is negative/],
    ['a negative price', klineFrame({ o: '-0.001' }), /k.o is negative/],
    ['a fractional open time', klineFrame({ t: 1672515780000.5 }), /k.t is not a time/],
    ['a fractional event time', klineFrame({}, { E: 1.5 }), /E is not a time/],
    ['an event time as text', klineFrame({}, { E: '1672515782136' }), /E is not a time/],
    ['a negative event time', klineFrame({}, { E: -1 }), /E is not a time/],
    ['an event time past 2^53', klineFrame({}, { E: 2 ** 53 }), /E is not a time/],
    ['an open time off the minute', klineFrame({ t: 1672515780001, T: 1672515840000 }), /minute boundary/],
    ['a close time not t + 59999', klineFrame({ T: 1672515840000 }), /k.T is not k.t \+ 59999/],
    ['a negative trade count', klineFrame({ n: -1 }), /k.n/],
    ['a fractional trade count', klineFrame({ n: 1.5 }), /k.n/],
    ['x as text', klineFrame({ x: 'false' }), /k.x is not a boolean/],
    ['a kline without k', combined(KLINE_STREAM, { ...DOC_KLINE, k: undefined }), /k is not an object/],
    ['k as an array', combined(KLINE_STREAM, { ...DOC_KLINE, k: [] }), /k is not an object/],
    ['null kline data', combined(KLINE_STREAM, null), /kline data is not an object/],
    ['extra-deep array nesting', deepArray, /array/],
    ['extra-deep object nesting', deepObject, /carries event undefined/],
    ['a frame over MAX_FRAME_BYTES', klineFrame() + ' '.repeat(MAX_FRAME_BYTES), /larger than 2097152 bytes/],
    ['a string over MAX_FRAME_BYTES', `"${'a'.repeat(MAX_FRAME_BYTES)}"`, /larger than/],
    ['mini tickers that are not an array', combined(ARR, DOC_MINI_TICKER), /not an array/],
    ['mini tickers that are all malformed', tickerFrame([null, { ...DOC_MINI_TICKER, v: '-1' }]), /all 2/],
    ['a shutdown without a time', '{"e":"serverShutdown"}', /E is not a time/],
    ['a shutdown stream carrying a kline', combined('!serverShutdown', DOC_KLINE), /carries event "kline"/],
    ['a reply without an id', '{"result":null}', /reply id/],
    ['a reply with a fractional id', '{"result":null,"id":1.5}', /reply id/],
    ['a reply id with a dash', '{"result":null,"id":"a-b"}', /reply id/],
    ['a reply id of 37 characters', `{"result":null,"id":"${'a'.repeat(37)}"}`, /reply id/],
    ['a control error code as text', '{"code":"2","msg":"x"}', /code is not an integer/],
    ['a control error without msg', '{"code":2}', /msg is not a string/],
    ['a control error with an object id', '{"code":2,"msg":"x","id":{}}', /control error id/],
  ];

  it.each(cases)('rejects %s with a reason and does not throw', (_name, text, reason) => {
    expect(() => decodeFrame(text)).not.toThrow();
    expect(rejection(text)).toMatch(reason);
  });

  it('lets no __proto__ or constructor key pollute Object.prototype', () => {
    const hostile = [
      '{"__proto__":{"polluted":1}}',
      '{"constructor":{"prototype":{"polluted":1}}}',
      `{"stream":"${KLINE_STREAM}","data":{"__proto__":{"polluted":1},"e":"kline"}}`,
      `{"stream":"${ARR}","data":[{"__proto__":{"polluted":1}},{"constructor":{"prototype":{"polluted":1}}}]}`,
      '{"result":{"__proto__":{"polluted":1}},"id":1}',
    ];
    for (const text of hostile) decodeFrame(text);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(decodeFrame(hostile[0]!)).toEqual({ ok: false, reason: 'unknown envelope' });
  });

  it('keeps the good mini tickers of an array with bad elements and counts the dropped ones', () => {
    const other = { ...DOC_MINI_TICKER, s: 'ETHUSDT', c: '3000.10' };
    const text = tickerFrame([
      DOC_MINI_TICKER,
      { ...DOC_MINI_TICKER, v: '-5' },
      'x',
      other,
      { e: '24hrTicker' },
    ]);
    const detailed = decodeFrameDetailed(text);
    expect(detailed.dropped).toBe(3);
    expect(detailed.firstDropReason).toMatch(/BNBBTC: a price or volume/);
    const tickers = [DOC_TICKER, { ...DOC_TICKER, symbol: 'ETHUSDT', close: '3000.10' }];
    expect(detailed.result).toEqual({ ok: true, event: { type: 'miniTickers', stream: ARR, tickers } });
    expect(decodeFrame(text)).toEqual(detailed.result);
  });

  it('accepts an empty mini ticker array: no symbol changed that second', () => {
    expect(decodeFrameDetailed(tickerFrame([]))).toEqual({
      result: { ok: true, event: { type: 'miniTickers', stream: ARR, tickers: [] } },
      dropped: 0,
    });
  });

  it('keeps no state between frames: decoding twice, around a hostile frame, gives equal fresh results', () => {
    const first = decodeFrame(klineFrame());
    decodeFrame('{"__proto__":{"polluted":1}}');
    decodeFrame(klineFrame({ o: '-1' }));
    const second = decodeFrame(klineFrame());
    expect(second).toEqual(first);
    expect(second).not.toBe(first);
    expect(decodeFrame(tickerFrame([DOC_MINI_TICKER]))).toEqual(decodeFrame(tickerFrame([DOC_MINI_TICKER])));
  });
});

describe('decodeFrame on shared fixtures', () => {
  const docs = (name: string): unknown => JSON.parse(readFixture(`binance-docs/${name}`)) as unknown;

  it.skipIf(!HAS_SHARED_FIXTURES)(
    `decodes the documented kline and combined kline${SKIPPED_WITHOUT_FIXTURES}`,
    () => {
      const expected = { type: 'kline', stream: KLINE_STREAM, candle: DOC_CANDLE };
      expect(decoded(readFixture('binance-docs/combined_kline.json'))).toEqual(expected);
      expect(decoded(combined(KLINE_STREAM, docs('kline_1m.json')))).toEqual(expected);
    },
  );

  it.skipIf(!HAS_SHARED_FIXTURES)(`decodes the documented mini tickers${SKIPPED_WITHOUT_FIXTURES}`, () => {
    const expected = { type: 'miniTickers', stream: ARR, tickers: [DOC_TICKER] };
    expect(decoded(tickerFrame([docs('miniTicker.json')]))).toEqual(expected);
    expect(decoded(combined(ARR, docs('miniTicker_arr.json')))).toEqual(expected);
  });

  it.skipIf(!HAS_SHARED_FIXTURES)(
    `decodes the documented shutdown and replies${SKIPPED_WITHOUT_FIXTURES}`,
    () => {
      const shutdown = { type: 'serverShutdown', eventTime: 1770123456789 };
      expect(decoded(readFixture('binance-docs/serverShutdown_combined.json'))).toEqual(shutdown);
      expect(decoded(readFixture('binance-docs/subscribe_response.json'))).toEqual({
        type: 'reply',
        id: 1,
        result: null,
      });
    },
  );

  it.skipIf(!HAS_SHARED_FIXTURES)(
    `decodes every documented control message${SKIPPED_WITHOUT_FIXTURES}`,
    () => {
      const messages = docs('ws_control_messages.json') as Record<string, unknown>;
      const { errors_documented: errors, ...methods } = messages;
      const replies = Object.values(methods).map(
        (pair) => (pair as { response: { id: number; result: unknown } }).response,
      );
      expect(replies).toHaveLength(5);
      for (const reply of replies) {
        expect(decoded(JSON.stringify(reply))).toEqual({ type: 'reply', id: reply.id, result: reply.result });
      }
      for (const error of errors as { code: number; msg: string }[]) {
        const event = { type: 'controlError', id: null, code: error.code, message: error.msg };
        expect(decoded(JSON.stringify(error))).toEqual(event);
      }
    },
  );

  it.skipIf(!HAS_SHARED_FIXTURES)(`rejects the other documented streams${SKIPPED_WITHOUT_FIXTURES}`, () => {
    for (const [name, stream] of [
      ['trade.json', 'bnbbtc@trade'],
      ['aggTrade.json', 'bnbbtc@aggTrade'],
      ['bookTicker.json', 'bnbusdt@bookTicker'],
      ['ticker_24hr.json', 'bnbbtc@ticker'],
    ] as const) {
      expect(rejection(combined(stream, docs(name)))).toMatch(/unexpected stream/);
    }
  });

  it.skipIf(!HAS_SHARED_FIXTURES)(
    `decodes cryptofeed's recorded kline_1m frames and rejects its other streams${SKIPPED_WITHOUT_FIXTURES}`,
    () => {
      const lines = readFixture('ws-recordings/cryptofeed_BINANCE.ws.1.0.txt').split('\n').slice(1);
      const frames = lines.filter((line) => line !== '').map((line) => line.slice(line.indexOf(': ') + 2));
      const events = frames.map((frame) => decodeFrame(frame));
      const klines = events.flatMap((result) => (result.ok ? [result.event] : []));
      expect(frames).toHaveLength(265);
      expect(klines.map((event) => (event.type === 'kline' ? event.candle.symbol : event.type))).toEqual([
        'NKNUSDT',
        'LRCBTC',
      ]);
      expect(klines[0]).toEqual({ type: 'kline', stream: 'nknusdt@kline_1m', candle: NKNUSDT_CANDLE });
      for (const result of events) {
        if (!result.ok) {
          expect(result.reason).toMatch(/^unexpected stream \w+@(depth@100ms|bookTicker|aggTrade)$/);
        }
      }
    },
  );

  it.skipIf(!HAS_SHARED_FIXTURES)(
    `decodes crypto-crawler's kline_1m message and rejects its other messages${SKIPPED_WITHOUT_FIXTURES}`,
    () => {
      const lines = readFixture('ws-recordings/crypto-crawler_binance_spot_messages.jsonl').split('\n');
      const raws = lines
        .filter((line) => line !== '')
        .map((line) => (JSON.parse(line) as { raw: unknown }).raw);
      expect(raws).toHaveLength(8);
      const results = raws.map((raw) => decodeFrame(JSON.stringify(raw)));
      expect(results.map((result) => (result.ok ? result.event.type : result.reason))).toEqual([
        'unexpected stream btcusdt@aggTrade',
        'unexpected stream btcusdt@depth@100ms',
        'unexpected stream ethusdt@depth20',
        'unexpected stream !bookTicker',
        'unexpected stream ethusdt@ticker',
        'unexpected stream !ticker@arr',
        'kline',
        'unknown envelope',
      ]);
      expect(results[6]).toMatchObject({
        event: {
          stream: 'btcusdt@kline_1m',
          candle: { symbol: 'BTCUSDT', open: '29038.46', volume: '0.20926' },
        },
      });
    },
  );

  it('decodes a control error in the wrapped form the live server sends', () => {
    expect(decodeFrame('{"error":{"code":2,"msg":"Invalid request: unknown variant"},"id":7}')).toEqual({
      ok: true,
      event: { type: 'controlError', id: 7, code: 2, message: 'Invalid request: unknown variant' },
    });
    expect(decodeFrame('{"error":{"code":"2"},"id":7}').ok).toBe(false);
  });

  it('skips untracked miniTickers before validating them when asked to', () => {
    const frame = JSON.stringify({
      stream: '!miniTicker@arr',
      data: [
        { e: '24hrMiniTicker', E: 1, s: 'BTCUSDT', c: '1', o: '1', h: '1', l: '1', v: '1', q: '1' },
        {
          e: '24hrMiniTicker',
          E: 1,
          s: 'OTHERUSDT',
          c: 'not checked',
          o: '1',
          h: '1',
          l: '1',
          v: '1',
          q: '1',
        },
      ],
    });
    const { result, dropped } = decodeFrameDetailed(frame, { wantsTicker: (symbol) => symbol === 'BTCUSDT' });
    expect(dropped).toBe(0);
    expect(
      result.ok && result.event.type === 'miniTickers' && result.event.tickers.map((t) => t.symbol),
    ).toEqual(['BTCUSDT']);
  });
});
