import { describe, expect, it } from 'vitest';
import { selectTopSymbols, type ExchangeSymbol } from './universe.js';

const pair = (
  symbol: string,
  baseAsset: string,
  quoteAsset = 'USDT',
  status = 'TRADING',
): ExchangeSymbol => ({
  symbol,
  baseAsset,
  quoteAsset,
  status,
  isSpotTradingAllowed: true,
});

describe('universe selection', () => {
  const symbols = [
    pair('BTCUSDT', 'BTC'),
    pair('ETHUSDT', 'ETH'),
    pair('SOLUSDT', 'SOL'),
    pair('USDCUSDT', 'USDC'),
    pair('FDUSDUSDT', 'FDUSD'),
    pair('EURUSDT', 'EUR'),
    pair('ETHBTC', 'ETH', 'BTC'),
    pair('LUNAUSDT', 'LUNA', 'USDT', 'BREAK'),
    pair('币安人生USDT', '币安人生'),
    { ...pair('NOSPOTUSDT', 'NOSPOT'), isSpotTradingAllowed: false },
  ];
  const tickers = [
    { symbol: 'BTCUSDT', quoteVolume: '2000000000.5' },
    { symbol: 'ETHUSDT', quoteVolume: '900000000' },
    { symbol: 'SOLUSDT', quoteVolume: '900000000.00000001' },
    { symbol: 'USDCUSDT', quoteVolume: '9000000000' },
    { symbol: 'FDUSDUSDT', quoteVolume: '8000000000' },
    { symbol: 'EURUSDT', quoteVolume: '7000000000' },
    { symbol: 'ETHBTC', quoteVolume: '99999999999' },
    { symbol: 'LUNAUSDT', quoteVolume: '99999999999' },
    { symbol: '币安人生USDT', quoteVolume: '1000' },
    { symbol: 'NOSPOTUSDT', quoteVolume: '99999999999' },
  ];

  it('takes the top N TRADING USDT spot pairs by exact 24 h quote volume', () => {
    expect(selectTopSymbols(symbols, tickers, 3).map((s) => s.symbol)).toEqual([
      'BTCUSDT',
      'SOLUSDT',
      'ETHUSDT',
    ]);
  });

  it('leaves out stablecoin and fiat bases, other quotes, halted pairs and non-spot pairs', () => {
    expect(selectTopSymbols(symbols, tickers, 100).map((s) => s.symbol)).toEqual([
      'BTCUSDT',
      'SOLUSDT',
      'ETHUSDT',
      '币安人生USDT',
    ]);
  });

  it('ranks a pair with no ticker last and returns active symbols with their assets', () => {
    const selected = selectTopSymbols([pair('NEWUSDT', 'NEW'), ...symbols], tickers, 100);
    expect(selected.at(-1)).toEqual({
      symbol: 'NEWUSDT',
      baseAsset: 'NEW',
      quoteAsset: 'USDT',
      status: 'TRADING',
      isActive: true,
    });
  });
});
