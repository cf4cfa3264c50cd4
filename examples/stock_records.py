"""Ask questions of monthly stock prices arranged as stock x year x month.

Data: `Stocks.csv` from matplotlib's sample data, monthly prices from Yahoo
Finance of ten tickers (eight stocks and the S&P 500 and NASDAQ Composite
indices, ^GSPC and ^IXIC) from January 1990 to June 2022. The file has one
row per month, dated the 1st, plus rows that hold no price at all, and a
second June 2022 row (the 28th) that repeats the prices of June 1st.

Missing data, handled explicitly and reported in the output:

- rows with no price are skipped, and a later row of a month already seen is
  skipped, so every kept row is the price on the first of its month;
- the calendar runs from January 1990 to December 2022, and the months after
  June 2022 have no row: their index points at an extra column of NaN
  appended to the price table;
- a stock's months before its first price (AMZN, DELL, GOOGL) are NaN;
- `argmax` returns the position of the first NaN, so it runs on prices with
  NaN replaced by -inf;
- `argsort` puts NaN last, so sorting the negated prices lists the observed
  months from highest to lowest and the missing ones after them;
- the yearly mean and maximum use the observed months only, and are NaN for
  a year with none.

The questions, each one operation:

- arrange the table: `gather(table, row_of, "stock row, [row] year month -> stock year month")`;
- the (year, month) of every stock's highest price:
  `argmax(prices, "stock year month -> [year, month] stock")`, and the price
  then with `gather`;
- the three best months of every stock and year:
  `argsort(-prices, "stock year month -> [month] stock year order")[..., :3]`;
- the yearly mean and maximum, as gathers that read the twelve rows of each
  year and aggregate them: `gather(table, row_of, "stock row, [row] year month -> stock year", agg=...)`;
- how many stocks reached their all-time high in each year: a scatter of a
  0-d one, `scatter(one, best, ", [year, _month] stock -> year", year=...)`,
  where `_month` marks the month row of `best` as ignored.

The plain numpy version fills the stock x year x month array row by row
and uses `np.nanargmax`, `np.argsort(kind="stable")`, `np.nanmean`,
`np.nanmax` and `np.bincount`.

Run it with `python examples/stock_records.py`.
"""

import csv
import warnings

import matplotlib.cbook
import numpy as np
from example_tools import (
    Checks,
    Outcome,
    best_time,
    observed_mask,
    one_like,
    replace_nan,
    run_script,
    to_backend,
    to_numpy,
)

import eindex_codegen as eindex

FIRST_YEAR = 1990
YEAR_COUNT = 33
MONTH_COUNT = 12
TOP_MONTHS = 3
MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
REPORT_YEAR = 2021

ARRANGE_PATTERN = "stock row, [row] year month -> stock year month"
HIGHEST_PATTERN = "stock year month -> [year, month] stock"
PRICE_AT_PATTERN = "stock year month, [year, month] stock -> stock"
TOP_PATTERN = "stock year month -> [month] stock year order"
TOP_PRICE_PATTERN = "stock year month, [month] stock year rank -> stock year rank"
YEARLY_PATTERN = "stock row, [row] year month -> stock year"
HIGH_COUNT_PATTERN = ", [year, _month] stock -> year"


def read_rows():
    """Read Stocks.csv and return (tickers, kept rows, empty row count, repeated row dates).

    Each kept row is (year, month, list of prices with NaN for an empty cell).
    An empty row has no price at all, and a repeated row is a later row of a
    month already kept.
    """
    path = matplotlib.cbook.get_sample_data("Stocks.csv", asfileobj=False)
    with open(path, newline="", encoding="utf-8") as file:
        lines = [line for line in file if not line.startswith("#")]
    reader = csv.reader(lines)
    tickers = next(reader)[1:]
    rows, seen_months = [], set()
    empty_rows, repeated_rows = 0, []
    for date, *cells in reader:
        if not any(cells):
            empty_rows += 1
            continue
        year, month = int(date[:4]), int(date[5:7])
        if (year, month) in seen_months:
            repeated_rows.append(date)
            continue
        seen_months.add((year, month))
        rows.append((year, month, [float(cell) if cell else np.nan for cell in cells]))
    return tickers, rows, empty_rows, repeated_rows


def calendar_index(rows):
    """Return the table (stock, row + 1) with a NaN column last, and row_of (1, year, month).

    row_of contains the table column of every calendar month, or the NaN
    column for a month that has no row.
    """
    prices_rs = np.array([prices for _, _, prices in rows])
    missing_column = np.full((prices_rs.shape[1], 1), np.nan)
    table_sr = np.concatenate([prices_rs.T, missing_column], axis=1)
    row_of = np.full((1, YEAR_COUNT, MONTH_COUNT), len(rows), dtype=np.int64)
    for row, (year, month, _) in enumerate(rows):
        row_of[0, year - FIRST_YEAR, month - 1] = row
    return table_sr, row_of


def eindex_questions(table_sr, row_of, year_count):
    """Compute every result with eindex_codegen and return them in a dict."""
    prices = eindex.gather(table_sr, row_of, ARRANGE_PATTERN)

    best = eindex.argmax(replace_nan(prices, -np.inf), HIGHEST_PATTERN)
    highest_price = eindex.gather(prices, best, PRICE_AT_PATTERN)

    top_months = eindex.argsort(-prices, TOP_PATTERN)[..., :TOP_MONTHS]
    top_prices = eindex.gather(prices, top_months, TOP_PRICE_PATTERN)

    observed_sr = observed_mask(table_sr)
    sums = eindex.gather(replace_nan(table_sr, 0.0), row_of, YEARLY_PATTERN, agg="sum")
    counts = eindex.gather(observed_sr, row_of, YEARLY_PATTERN, agg="sum")
    with np.errstate(invalid="ignore"):
        yearly_mean = sums / counts
    yearly_max = eindex.gather(replace_nan(table_sr, -np.inf), row_of, YEARLY_PATTERN, agg="max")
    yearly_max[yearly_max == -np.inf] = np.nan

    high_counts = eindex.scatter(one_like(best), best, HIGH_COUNT_PATTERN, year=year_count)
    return {
        "prices": prices,
        "best (year, month)": best,
        "highest price": highest_price,
        "top months": top_months,
        "top prices": top_prices,
        "months observed": counts,
        "yearly mean": yearly_mean,
        "yearly max": yearly_max,
        "all-time highs per year": high_counts,
    }


def numpy_questions(tickers, rows):
    """Compute every result with plain numpy from the parsed rows and return them in a dict."""
    prices = np.full((len(tickers), YEAR_COUNT, MONTH_COUNT), np.nan)
    for year, month, row_prices in rows:
        prices[:, year - FIRST_YEAR, month - 1] = row_prices

    flat_best = np.nanargmax(prices.reshape(len(tickers), -1), axis=1)
    best = np.stack(np.divmod(flat_best, MONTH_COUNT))
    highest_price = prices[np.arange(len(tickers)), best[0], best[1]]

    top_months = np.argsort(-prices, axis=-1, kind="stable")[..., :TOP_MONTHS]
    top_prices = np.take_along_axis(prices, top_months, axis=-1)

    with warnings.catch_warnings():
        # A (stock, year) with no observed month is NaN, which is what the comparison expects.
        warnings.simplefilter("ignore", RuntimeWarning)
        yearly_mean = np.nanmean(prices, axis=-1)
        yearly_max = np.nanmax(prices, axis=-1)

    return {
        "prices": prices,
        "best (year, month)": best,
        "highest price": highest_price,
        "top months": top_months[None],
        "top prices": top_prices,
        "months observed": (~np.isnan(prices)).sum(axis=-1).astype(np.float64),
        "yearly mean": yearly_mean,
        "yearly max": yearly_max,
        "all-time highs per year": np.bincount(best[0], minlength=YEAR_COUNT),
    }


def describe(tickers, rows, empty_rows, repeated_rows, results):
    """Return the report lines: the missing data first, then the results."""
    prices = to_numpy(results["prices"])
    observed = to_numpy(results["months observed"])
    best = to_numpy(results["best (year, month)"])
    highest = to_numpy(results["highest price"])
    top_months = to_numpy(results["top months"])[0]
    top_prices = to_numpy(results["top prices"])
    yearly_mean = to_numpy(results["yearly mean"])
    yearly_max = to_numpy(results["yearly max"])
    high_counts = to_numpy(results["all-time highs per year"])

    missing_calendar = int(np.isnan(prices).all(axis=0).sum())
    late_starts = [
        f"{ticker} from {FIRST_YEAR + first // MONTH_COUNT}-{first % MONTH_COUNT + 1:02d}"
        for ticker, first in zip(tickers, np.argmax(~np.isnan(prices.reshape(len(tickers), -1)), 1))
        if first > 0
    ]
    partial_years = int(((observed > 0) & (observed < MONTH_COUNT)).sum())
    empty_years = int((observed == 0).sum())
    lines = [
        (
            f"rows: {len(rows)} months kept, {FIRST_YEAR}-01 to {rows[-1][0]}-{rows[-1][1]:02d}; "
            f"{empty_rows} rows without any price skipped; repeated month rows skipped: "
            f"{', '.join(repeated_rows) or 'none'}"
        ),
        (
            f"missing: {missing_calendar} calendar months have no row (read as NaN); "
            f"prices start late for {', '.join(late_starts)}"
        ),
        (
            f"missing months are -inf for argmax, sorted last by argsort, and left out of the "
            f"yearly mean and max: {partial_years} (stock, year) pairs are partial years, "
            f"{empty_years} have no price (mean and max NaN)"
        ),
        (
            f"{'ticker':<7}{'highest (month-start)':<24}{'best 3 months of ' + str(REPORT_YEAR):<40}"
            f"{'mean ' + str(REPORT_YEAR):>10}{'max ' + str(REPORT_YEAR):>10}"
        ),
    ]
    report_year = REPORT_YEAR - FIRST_YEAR
    for stock, ticker in enumerate(tickers):
        year, month = best[:, stock]
        when = f"{FIRST_YEAR + year}-{month + 1:02d} {highest[stock]:.2f}"
        months = ", ".join(
            f"{MONTH_NAMES[month_index]} {price:.2f}"
            for month_index, price in zip(
                top_months[stock, report_year], top_prices[stock, report_year]
            )
        )
        lines.append(
            f"{ticker:<7}{when:<24}{months:<40}"
            f"{yearly_mean[stock, report_year]:>10.2f}{yearly_max[stock, report_year]:>10.2f}"
        )
    record_years = [
        f"{FIRST_YEAR + year}: {int(count)}" for year, count in enumerate(high_counts) if count
    ]
    lines.append(f"tickers reaching their all-time high, per year: {'; '.join(record_years)}")
    return lines


def run(backend="numpy"):
    """Compute every result on `backend` and check each one against plain numpy."""
    tickers, rows, empty_rows, repeated_rows = read_rows()
    table_sr, row_of = calendar_index(rows)
    backend_table = to_backend(table_sr, backend)
    backend_row_of = to_backend(row_of, backend)

    results, eindex_seconds = best_time(
        lambda: eindex_questions(backend_table, backend_row_of, YEAR_COUNT)
    )
    expected, plain_seconds = best_time(lambda: numpy_questions(tickers, rows))

    checks = Checks()
    for name, value in expected.items():
        # Sums over the same months in a different order may differ in the last bits.
        if name == "yearly mean":
            checks.close(name, results[name], value, 1e-9)
        else:
            checks.equal(name, results[name], value)

    report = describe(tickers, rows, empty_rows, repeated_rows, results)
    high_counts = to_numpy(results["all-time highs per year"])
    top_year = int(np.argmax(high_counts))
    summary = (
        f"{len(tickers)} tickers x {YEAR_COUNT} years x {MONTH_COUNT} months "
        f"({int(np.isnan(to_numpy(results['prices'])).sum())} cells missing): highest month, "
        f"top 3 months, yearly mean and max; {int(high_counts[top_year])} all-time highs in "
        f"{FIRST_YEAR + top_year}"
    )
    return Outcome("stock records", backend, summary, report, checks, eindex_seconds, plain_seconds)


def main():
    run_script(run)


if __name__ == "__main__":
    main()
