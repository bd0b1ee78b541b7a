using System.Globalization;
using CsCheck;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using Xunit.Abstractions;
using static EdgeCache.Engine.Tests.TestData;

namespace EdgeCache.Engine.Tests;

/// <summary>
/// The strict HTTP-date parser (issue #13): the three forms of RFC 9110 §5.6.7 and nothing else,
/// the 50-year rule for RFC 850 two-digit years, and properties over generated input (round-trips,
/// no exceptions, every accepted string is one of the three forms of the value it gave).
/// </summary>
public class HttpDateTests(ITestOutputHelper output)
{
    private const int Iterations = 20_000;

    private static readonly DateTimeOffset Example = new(1994, 11, 6, 8, 49, 37, TimeSpan.Zero);

    private static DateTimeOffset? Parse(string value, DateTimeOffset? now = null) =>
        HttpDate.TryParse(value, now ?? T0, out var d) ? d : null;

    [Theory]
    [InlineData("Sun, 06 Nov 1994 08:49:37 GMT")]
    [InlineData("Sunday, 06-Nov-94 08:49:37 GMT")]
    [InlineData("Sun Nov  6 08:49:37 1994")]
    public void Rfc9110_5_6_7_The_three_examples_are_the_same_instant(string value)
    {
        Assert.Equal(Example, Parse(value));
    }

    [Theory]
    [InlineData(" Sun, 06 Nov 1994 08:49:37 GMT")]
    [InlineData("Sun, 06 Nov 1994 08:49:37 GMT \t")]
    [InlineData("\tSun Nov  6 08:49:37 1994 ")]
    [InlineData("Sun Nov 06 08:49:37 1994")]
    public void Rfc9110_5_6_7_Surrounding_whitespace_and_asctime_two_digit_day_are_accepted(string value)
    {
        Assert.Equal(Example, Parse(value));
    }

    [Theory]
    [InlineData("Sun, 06 Nov 1994 08:49:37")] // no zone
    [InlineData("Sun, 06 Nov 1994 08:49:37 +0000")]
    [InlineData("Sun, 06 Nov 1994 08:49:37 UTC")]
    [InlineData("Sun, 06 Nov 1994 08:49:37 GMT+0000")]
    [InlineData("06 Nov 1994 08:49:37 GMT")] // no weekday
    [InlineData("Sun, 06 Nov 1994 8:49:37 GMT")] // one-digit hour
    [InlineData("Sun, 6 Nov 1994 08:49:37 GMT")] // one-digit day
    [InlineData("Sun, 06 Nov 1994 08:49:37 gmt")]
    [InlineData("sun, 06 Nov 1994 08:49:37 GMT")]
    [InlineData("Sun, 06 nov 1994 08:49:37 GMT")]
    [InlineData("SUN, 06 NOV 1994 08:49:37 GMT")]
    [InlineData("Sun,  06 Nov 1994 08:49:37 GMT")] // double spaces
    [InlineData("Sun, 06  Nov 1994 08:49:37 GMT")]
    [InlineData("Sun, 06 Nov 1994  08:49:37 GMT")]
    [InlineData("Sun, 06 Nov 1994 08:49:37  GMT")]
    [InlineData("Sun,06 Nov 1994 08:49:37 GMT")]
    [InlineData("Sun, 06 Nov 1994 08:49:37 GMTx")] // trailing garbage
    [InlineData("Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT")]
    [InlineData("Sun, 06 Nov 94 08:49:37 GMT")] // two-digit year in IMF-fixdate
    [InlineData("Sun, 06-Nov-1994 08:49:37 GMT")]
    [InlineData("Sun, 06 Nov 1994 08:49 GMT")]
    [InlineData("Sun, 06 Nov 1994 08.49.37 GMT")]
    [InlineData("Sun, 06 Nov 1994 08:49:37.5 GMT")]
    [InlineData("Sun, 06 Nov ١٩٩٤ 08:49:37 GMT")] // non-ASCII digits
    [InlineData("Mon, 06 Nov 1994 08:49:37 GMT")] // wrong weekday
    [InlineData("Fri, 30 Feb 2024 08:49:37 GMT")] // Feb 30
    [InlineData("Thu, 29 Feb 2023 08:49:37 GMT")] // not a leap year
    [InlineData("Sat, 00 Nov 1994 08:49:37 GMT")]
    [InlineData("Mon, 31 Apr 2024 08:49:37 GMT")]
    [InlineData("Mon, 07 Nov 1994 24:00:00 GMT")] // hour 24
    [InlineData("Sun, 06 Nov 1994 08:60:37 GMT")]
    [InlineData("Sun, 06 Nov 1994 08:49:60 GMT")] // a leap second only at 23:59:60
    [InlineData("Sun, 06 Nov 0000 08:49:37 GMT")]
    [InlineData("Sun, 06-Nov-94 08:49:37 GMT")] // short day name in RFC 850
    [InlineData("sunday, 06-Nov-94 08:49:37 GMT")]
    [InlineData("Sunday, 06-Nov-94 08:49:37 UTC")]
    [InlineData("Sunday, 06-Nov-1994 08:49:37 GMT")]
    [InlineData("Sunday, 06 Nov 94 08:49:37 GMT")]
    [InlineData("Sunday,06-Nov-94 08:49:37 GMT")]
    [InlineData("Sun Nov 6 08:49:37 1994")] // asctime: one space before a one-digit day
    [InlineData("Sun Nov   6 08:49:37 1994")]
    [InlineData("Sun Nov  6 08:49:37 94")]
    [InlineData("Sun Nov  6 08:49:37 1994 GMT")]
    [InlineData("sun nov  6 08:49:37 1994")]
    [InlineData("Sun  Nov  6 08:49:37 1994")]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("0")]
    [InlineData("Sun,")]
    [InlineData("Sunday,")]
    [InlineData("1994-11-06T08:49:37Z")]
    [InlineData("Sun, 06 Nov 1994 08:49:37 GMT\r\n")] // only SP and HTAB are trimmed
    [InlineData("\u00a0Sun, 06 Nov 1994 08:49:37 GMT")]
    public void Rfc9110_5_6_7_Other_forms_are_rejected(string value)
    {
        Assert.False(HttpDate.TryParse(value, T0, out var result));
        Assert.Equal(default, result);
    }

    [Theory]
    [InlineData("Thu, 31 Dec 1998 23:59:60 GMT", "1998-12-31T23:59:59Z")]
    [InlineData("Thursday, 31-Dec-98 23:59:60 GMT", "1998-12-31T23:59:59Z")]
    [InlineData("Thu Feb 29 00:00:00 2024", "2024-02-29T00:00:00Z")]
    [InlineData("Mon, 01 Jan 0001 00:00:00 GMT", "0001-01-01T00:00:00Z")]
    [InlineData("Fri, 31 Dec 9999 23:59:59 GMT", "9999-12-31T23:59:59Z")]
    public void Rfc9110_5_6_7_Edge_values_are_read(string value, string expected)
    {
        Assert.Equal(DateTimeOffset.Parse(expected, CultureInfo.InvariantCulture), Parse(value));
    }

    [Fact]
    public void Rfc9110_5_6_7_Rfc850_two_digit_year_more_than_50_years_ahead_is_the_most_recent_past_one()
    {
        var now = new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

        // 2075-06-01T12:00:00 is exactly 50 years ahead: still 2075; one second later is 1975.
        Assert.Equal(new DateTimeOffset(2075, 6, 1, 12, 0, 0, TimeSpan.Zero), Parse("Saturday, 01-Jun-75 12:00:00 GMT", now));
        Assert.Equal(new DateTimeOffset(1975, 6, 1, 12, 0, 1, TimeSpan.Zero), Parse("Sunday, 01-Jun-75 12:00:01 GMT", now));

        // The weekday is checked against the year the rule chose: 2075-06-01 is a Saturday, 1975-06-01 a Sunday.
        Assert.Null(Parse("Saturday, 01-Jun-75 12:00:01 GMT", now));
        Assert.Null(Parse("Sunday, 01-Jun-75 12:00:00 GMT", now));
        Assert.Equal(new DateTimeOffset(1999, 12, 31, 0, 0, 0, TimeSpan.Zero), Parse("Friday, 31-Dec-99 00:00:00 GMT", now));
        Assert.Equal(new DateTimeOffset(2074, 1, 1, 0, 0, 0, TimeSpan.Zero), Parse("Monday, 01-Jan-74 00:00:00 GMT", now));
        Assert.Equal(new DateTimeOffset(2000, 2, 29, 0, 0, 0, TimeSpan.Zero), Parse("Tuesday, 29-Feb-00 00:00:00 GMT", now));

        // The same text read on another clock.
        Assert.Equal(Example, Parse("Sunday, 06-Nov-94 08:49:37 GMT", new DateTimeOffset(1994, 11, 6, 0, 0, 0, TimeSpan.Zero)));
        Assert.Null(Parse("Sunday, 06-Nov-94 08:49:37 GMT", new DateTimeOffset(2050, 1, 1, 0, 0, 0, TimeSpan.Zero))); // 2094-11-06 is a Saturday
    }

    [Fact]
    public void Rfc9110_5_6_7_Rfc850_year_reads_at_the_ends_of_the_calendar()
    {
        Assert.Null(Parse("Sunday, 06-Nov-94 08:49:37 GMT", DateTimeOffset.MinValue)); // would be year -6
        Assert.Equal(new DateTimeOffset(9999, 12, 31, 23, 59, 59, TimeSpan.Zero), Parse("Friday, 31-Dec-99 23:59:59 GMT", DateTimeOffset.MaxValue));
    }

    [Fact]
    public void Rfc9110_5_3_a_date_field_over_several_lines_is_one_invalid_value_not_its_first_line()
    {
        // Two lines are one value joined with a comma (§5.3); "a, b" is no HTTP-date (§5.6.7).
        const string A = "Sun, 06 Nov 1994 08:49:37 GMT";
        Assert.True(HttpDate.TryParseField(new StringValues(A), T0, out _));
        Assert.False(HttpDate.TryParseField(new StringValues([A, A]), T0, out var twice));
        Assert.Equal(default, twice);
        Assert.False(HttpDate.TryParseField(new StringValues([A, "Mon, 07 Nov 1994 08:49:37 GMT"]), T0, out _));
        Assert.False(HttpDate.TryParseField(new StringValues(A + ", " + A), T0, out _));
        Assert.False(HttpDate.TryParseField(StringValues.Empty, T0, out _));
    }

    [Fact]
    public void TryParse_does_not_allocate()
    {
        string[] values = ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", " Sun, 06 Nov 1994 08:49:37 +0000 "];
        foreach (var v in values) HttpDate.TryParse(v, T0, out _);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            foreach (var v in values) HttpDate.TryParse(v, T0, out _);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    // ---------------------------------------------------------------- properties

    private static readonly long MinSecond = new DateTimeOffset(1900, 1, 1, 0, 0, 0, TimeSpan.Zero).UtcTicks / TimeSpan.TicksPerSecond;
    private static readonly long MaxSecond = new DateTimeOffset(9999, 12, 31, 23, 59, 59, TimeSpan.Zero).UtcTicks / TimeSpan.TicksPerSecond;

    /// <summary>Any second-precision UTC instant in years 1900 to 9999.</summary>
    private static readonly Gen<DateTimeOffset> Instant =
        Gen.Long[MinSecond, MaxSecond].Select(s => new DateTimeOffset(s * TimeSpan.TicksPerSecond, TimeSpan.Zero));

    /// <summary>A clock: any instant, and the ends of the calendar.</summary>
    private static readonly Gen<DateTimeOffset> Clock = Gen.Frequency(
        (8, Gen.Long[0, DateTimeOffset.MaxValue.UtcTicks].Select(t => new DateTimeOffset(t, TimeSpan.Zero))),
        (1, Gen.Const(DateTimeOffset.MinValue)),
        (1, Gen.Const(DateTimeOffset.MaxValue)));

    private static string Rfc850(DateTimeOffset t) =>
        t.ToString("dddd, dd'-'MMM'-'yy HH':'mm':'ss 'GMT'", CultureInfo.InvariantCulture);

    private static string Asctime(DateTimeOffset t, bool twoDigitDay) =>
        t.ToString("ddd MMM ", CultureInfo.InvariantCulture)
        + (twoDigitDay ? t.Day.ToString("00", CultureInfo.InvariantCulture) : t.Day.ToString(CultureInfo.InvariantCulture).PadLeft(2))
        + t.ToString(" HH':'mm':'ss yyyy", CultureInfo.InvariantCulture);

    /// <summary>A valid date in one of the forms, then zero to three edits: a character replaced, inserted or removed, or a case flip.</summary>
    private static readonly Gen<string> NearValid =
        from t in Instant
        from form in Gen.Int[0, 3]
        from edits in Gen.Select(Gen.Int[0, 3], Gen.Int[0, 40], Gen.Char[" \t,:-+0123456789GMTSundayNovgmtsunUTC\u0660"]).Array[0, 3]
        select Edit(form switch
        {
            0 => HeaderUtilities.FormatDate(t),
            1 => Rfc850(t),
            2 => Asctime(t, false),
            _ => Asctime(t, true),
        }, edits);

    private static string Edit(string s, (int Kind, int Position, char C)[] edits)
    {
        foreach (var (kind, position, c) in edits)
        {
            var i = Math.Min(position, s.Length);
            s = kind switch
            {
                0 when i < s.Length => s[..i] + c + s[(i + 1)..],
                1 => s[..i] + c + s[i..],
                2 when i < s.Length => s[..i] + s[(i + 1)..],
                3 when i < s.Length => s[..i] + (char.IsUpper(s[i]) ? char.ToLowerInvariant(s[i]) : char.ToUpperInvariant(s[i])) + s[(i + 1)..],
                _ => s,
            };
        }

        return s;
    }

    private static readonly Gen<string> AnyString = Gen.Frequency(
        (2, Gen.Char['\0', '\uffff'].Array[0, 40].Select(a => new string(a))),
        (2, Gen.Char[" \t,:-0123456789ADFGJMNOSTWabcdeghilnoprstuvy"].Array[0, 40].Select(a => new string(a))),
        (6, NearValid));

    [Fact]
    public void Property_IMF_fixdate_round_trips_every_second_in_years_1900_to_9999()
    {
        Gen.Select(Instant, Clock).Sample((t, now) =>
        {
            var text = HeaderUtilities.FormatDate(t);

            Assert.True(HttpDate.TryParse(text, now, out var parsed), text);
            Assert.Equal(t, parsed);
            Assert.Equal(TimeSpan.Zero, parsed.Offset);
        }, writeLine: output.WriteLine, iter: Iterations, print: x => HeaderUtilities.FormatDate(x.Item1) + " now " + x.Item2.ToString("O", CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Property_asctime_round_trips_and_rfc850_round_trips_within_50_years_of_now()
    {
        var gen =
            from now in Gen.Long[MinSecond + 100L * 366 * 86400, MaxSecond - 100L * 366 * 86400].Select(s => new DateTimeOffset(s * TimeSpan.TicksPerSecond, TimeSpan.Zero))
            from offset in Gen.Long[-49L * 365 * 86400, 50L * 365 * 86400]
            select (now, now.AddSeconds(offset));

        gen.Sample((now, t) =>
        {
            Assert.True(HttpDate.TryParse(Asctime(t, false), now, out var a), Asctime(t, false));
            Assert.Equal(t, a);
            Assert.True(HttpDate.TryParse(Rfc850(t), now, out var r), Rfc850(t));
            Assert.Equal(t, r);
        }, writeLine: output.WriteLine, iter: Iterations, print: x => Rfc850(x.Item2) + " now " + x.Item1.ToString("O", CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Property_any_input_parses_without_throwing()
    {
        Gen.Select(AnyString, Clock).Sample((s, now) =>
        {
            if (!HttpDate.TryParse(s, now, out var result)) Assert.Equal(default, result);
        }, writeLine: output.WriteLine, iter: Iterations, print: x => Show(x.Item1));
    }

    [Fact]
    public void Property_any_accepted_input_is_one_of_the_three_forms_of_the_value_it_gave()
    {
        Gen.Select(AnyString, Clock).Sample((s, now) =>
        {
            if (!HttpDate.TryParse(s, now, out var t)) return;

            var text = s.Trim(' ', '\t');

            // A leap second is read as the second before it.
            if (t.Hour == 23 && t.Minute == 59 && t.Second == 59) text = text.Replace("23:59:60", "23:59:59", StringComparison.Ordinal);
            Assert.Equal(TimeSpan.Zero, t.Offset);
            if (text.Length > 3 && text[3] == ',') Assert.Equal(HeaderUtilities.FormatDate(t), text);
            else Assert.Contains(text, new[] { Rfc850(t), Asctime(t, false), Asctime(t, true) });
        }, writeLine: output.WriteLine, iter: Iterations, print: x => Show(x.Item1) + " now " + x.Item2.ToString("O", CultureInfo.InvariantCulture));
    }

    private static string Show(string s) =>
        "\"" + string.Concat(s.Select(c => c is < ' ' or > '~' ? "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture) : c.ToString())) + "\"";
}
