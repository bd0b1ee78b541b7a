using Microsoft.Extensions.Primitives;
using static EdgeCache.Engine.Tests.TestData;

namespace EdgeCache.Engine.Tests;

public class FreshnessTests
{
    private static readonly HeuristicOptions Heuristics = HeuristicOptions.Default;

    private static (TimeSpan Lifetime, bool Heuristic)? Lifetime(
        string cacheControl, StringValues expires = default, DateTimeOffset? lastModified = null, int status = 200, bool useExpires = true) =>
        Freshness.Lifetime(status, CacheDirectives.Parse(cacheControl), useExpires, expires, T0, lastModified, Heuristics);

    [Fact]
    public void Rfc9111_4_2_1_S_maxage_wins_over_max_age_Expires_and_heuristic()
    {
        var result = Lifetime("max-age=60, s-maxage=120", Http(T0.AddHours(1)), T0.AddDays(-10));

        Assert.Equal((TimeSpan.FromSeconds(120), false), result);
    }

    [Fact]
    public void Rfc9111_4_2_1_Max_age_wins_over_Expires_and_heuristic()
    {
        var result = Lifetime("max-age=60", Http(T0.AddHours(1)), T0.AddDays(-10));

        Assert.Equal((TimeSpan.FromSeconds(60), false), result);
    }

    [Fact]
    public void Rfc9111_4_2_1_Expires_minus_Date_wins_over_heuristic()
    {
        var result = Lifetime("", Http(T0.AddHours(1)), T0.AddDays(-10));

        Assert.Equal((TimeSpan.FromHours(1), false), result);
    }

    [Fact]
    public void Rfc9111_4_2_1_Expires_before_Date_gives_zero_lifetime()
    {
        Assert.Equal((TimeSpan.Zero, false), Lifetime("", Http(T0.AddMinutes(-5))));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("never")]
    [InlineData("")]
    [InlineData("Sun, 06 Nov 1994 08:49:37 +0000")]
    [InlineData("Thu, 01 Jan 2026 12:00:00 +0000")] // a year after Date, but not an HTTP-date
    [InlineData("Thu, 01 Jan 2026 12:00:00 UTC")]
    [InlineData("Thu, 01 Jan 2026 12:00:00")]
    [InlineData("thu, 01 jan 2026 12:00:00 gmt")]
    [InlineData("01 Jan 2026 12:00:00 GMT")]
    [InlineData("Wed, 01 Jan 2026 12:00:00 GMT")] // wrong weekday
    public void Rfc9111_5_3_Invalid_Expires_means_already_expired(string expires)
    {
        // Even with a Last-Modified that would give a heuristic lifetime.
        Assert.Equal((TimeSpan.Zero, false), Lifetime("", expires, T0.AddDays(-10)));
    }

    [Fact]
    public void Rfc9111_5_3_an_Expires_over_several_field_lines_is_invalid_so_already_expired()
    {
        // Combined, the lines are one value with a comma, which no HTTP-date has (RFC 9110 §5.3).
        Assert.Equal((TimeSpan.Zero, false), Lifetime("", new StringValues(["Thu, 01 Jan 2026 12:00:00 GMT", "Thu, 01 Jan 2026 12:00:00 GMT"]), T0.AddDays(-10)));
    }

    [Theory]
    [InlineData("Thu, 01 Jan 2026 12:00:00 GMT")]
    [InlineData("Thursday, 01-Jan-26 12:00:00 GMT")]
    [InlineData("Thu Jan  1 12:00:00 2026")]
    public void Rfc9110_5_6_7_Expires_in_any_of_the_three_HTTP_date_forms_is_used(string expires)
    {
        Assert.Equal((TimeSpan.FromDays(365), false), Lifetime("", expires, T0.AddDays(-10)));
    }

    [Fact]
    public void Rfc9110_5_6_7_Rfc850_Expires_year_is_read_against_the_given_clock()
    {
        // Read against a receipt time in 2025, "-45" is 2045 (a Sunday). Without one it is read
        // against Date, 1990, for which 2045 is more than 50 years ahead: 1945, whose 1 January was
        // a Monday, so the value is invalid and the response already expired.
        var date = new DateTimeOffset(1990, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var receipt = Freshness.Lifetime(200, default, true, "Sunday, 01-Jan-45 00:00:00 GMT", date, null, Heuristics, T0);
        var byDate = Freshness.Lifetime(200, default, true, "Sunday, 01-Jan-45 00:00:00 GMT", date, null, Heuristics);
        var byDate1945 = Freshness.Lifetime(200, default, true, "Monday, 01-Jan-45 00:00:00 GMT", date, null, Heuristics);

        Assert.Equal((new DateTimeOffset(2045, 1, 1, 0, 0, 0, TimeSpan.Zero) - date, false), receipt);
        Assert.Equal((TimeSpan.Zero, false), byDate);
        Assert.Equal((TimeSpan.Zero, false), byDate1945); // parsed as 1945, before Date
        Assert.True(HttpDate.TryParse("Monday, 01-Jan-45 00:00:00 GMT", date, out var parsed));
        Assert.Equal(1945, parsed.Year);
    }

    [Fact]
    public void Rfc9213_Expires_is_ignored_when_not_used_and_heuristic_applies()
    {
        // Last-Modified 5 hours before Date: 10% is 30 minutes.
        var result = Lifetime("", Http(T0.AddHours(1)), T0.AddHours(-5), useExpires: false);

        Assert.Equal((TimeSpan.FromMinutes(30), true), result);
    }

    [Theory]
    [InlineData("max-age=abc")]
    [InlineData("max-age=-1")]
    [InlineData("s-maxage=x, max-age=60")]
    public void Rfc9111_5_2_2_1_Invalid_max_age_or_s_maxage_means_stale_not_Expires(string cacheControl)
    {
        var result = Lifetime(cacheControl, Http(T0.AddHours(1)), T0.AddDays(-10));

        Assert.Equal((TimeSpan.Zero, false), result);
    }

    [Fact]
    public void Rfc9111_4_2_1_Max_age_zero_is_zero()
    {
        Assert.Equal((TimeSpan.Zero, false), Lifetime("max-age=0", Http(T0.AddHours(1))));
    }

    [Fact]
    public void Rfc9111_4_2_2_Heuristic_is_ten_percent_of_time_since_Last_Modified()
    {
        // Date - Last-Modified = 10 hours; 10% = 1 hour.
        Assert.Equal((TimeSpan.FromHours(1), true), Lifetime("", lastModified: T0.AddHours(-10)));
    }

    [Fact]
    public void Rfc9111_4_2_2_Heuristic_is_capped()
    {
        // 30 days since Last-Modified; 10% = 3 days, capped at the default 1 day.
        Assert.Equal((TimeSpan.FromDays(1), true), Lifetime("", lastModified: T0.AddDays(-30)));
    }

    [Fact]
    public void Rfc9111_4_2_2_Heuristic_uses_the_configured_fraction_and_cap()
    {
        var options = new HeuristicOptions(0.5, TimeSpan.FromMinutes(90));

        Assert.Equal((TimeSpan.FromMinutes(60), true), Freshness.Lifetime(200, default, true, default, T0, T0.AddHours(-2), options));
        Assert.Equal((TimeSpan.FromMinutes(90), true), Freshness.Lifetime(200, default, true, default, T0, T0.AddHours(-4), options));
    }

    [Fact]
    public void Rfc9111_4_2_2_Heuristic_disabled_by_zero_fraction()
    {
        var options = new HeuristicOptions(0, TimeSpan.FromDays(1));

        Assert.Null(Freshness.Lifetime(200, default, true, default, T0, T0.AddHours(-10), options));
    }

    [Fact]
    public void Rfc9111_4_2_2_Last_Modified_after_Date_gives_zero_heuristic_lifetime()
    {
        Assert.Equal((TimeSpan.Zero, true), Lifetime("", lastModified: T0.AddMinutes(1)));
    }

    [Theory]
    [InlineData(302)]
    [InlineData(303)]
    [InlineData(307)]
    [InlineData(403)]
    [InlineData(500)]
    [InlineData(503)]
    public void Rfc9111_4_2_2_No_heuristic_for_status_not_heuristically_cacheable(int status)
    {
        Assert.Null(Lifetime("", lastModified: T0.AddHours(-10), status: status));
    }

    [Fact]
    public void Rfc9111_4_2_2_Public_allows_heuristic_for_any_status()
    {
        Assert.Equal((TimeSpan.FromHours(1), true), Lifetime("public", lastModified: T0.AddHours(-10), status: 302));
    }

    [Fact]
    public void Rfc9111_4_2_2_No_explicit_freshness_and_no_Last_Modified_gives_no_lifetime()
    {
        Assert.Null(Lifetime(""));
        Assert.Null(Lifetime("public"));
        Assert.Null(Lifetime("no-cache, must-revalidate"));
    }

    [Theory]
    [InlineData(200, true)]
    [InlineData(203, true)]
    [InlineData(204, true)]
    [InlineData(206, true)]
    [InlineData(300, true)]
    [InlineData(301, true)]
    [InlineData(308, true)]
    [InlineData(404, true)]
    [InlineData(405, true)]
    [InlineData(410, true)]
    [InlineData(414, true)]
    [InlineData(501, true)]
    [InlineData(201, false)]
    [InlineData(202, false)]
    [InlineData(302, false)]
    [InlineData(303, false)]
    [InlineData(304, false)]
    [InlineData(307, false)]
    [InlineData(400, false)]
    [InlineData(401, false)]
    [InlineData(403, false)]
    [InlineData(500, false)]
    [InlineData(502, false)]
    [InlineData(503, false)]
    public void Rfc9110_15_1_Heuristically_cacheable_status_codes(int status, bool expected)
    {
        Assert.Equal(expected, Freshness.IsHeuristicallyCacheable(status));
    }

    [Fact]
    public void Rfc9111_4_2_3_Corrected_initial_age_worked_example_Age_header_dominates()
    {
        // Request sent at 12:00:00, response received at 12:00:02 (response_delay = 2 s).
        // Date 11:59:57 (apparent_age = 5 s), Age: 10 (corrected_age_value = 10 + 2 = 12 s).
        var requestTime = T0;
        var responseTime = T0.AddSeconds(2);
        var date = T0.AddSeconds(-3);

        var age = Freshness.CorrectedInitialAge(requestTime, responseTime, date, TimeSpan.FromSeconds(10));

        Assert.Equal(TimeSpan.FromSeconds(12), age);
    }

    [Fact]
    public void Rfc9111_4_2_3_Corrected_initial_age_worked_example_apparent_age_dominates()
    {
        // Date 100 s before the request (a lagging cache upstream that sent no Age):
        // apparent_age = 102 s, corrected_age_value = 0 + 2 = 2 s.
        var age = Freshness.CorrectedInitialAge(T0, T0.AddSeconds(2), T0.AddSeconds(-100), TimeSpan.Zero);

        Assert.Equal(TimeSpan.FromSeconds(102), age);
    }

    [Fact]
    public void Rfc9111_4_2_3_Date_in_the_future_gives_zero_apparent_age()
    {
        // Origin clock 5 minutes ahead: apparent_age = max(0, -298 s) = 0; only the delay counts.
        var age = Freshness.CorrectedInitialAge(T0, T0.AddSeconds(2), T0.AddMinutes(5), TimeSpan.Zero);

        Assert.Equal(TimeSpan.FromSeconds(2), age);
    }

    [Fact]
    public void Rfc9111_4_2_3_Negative_response_delay_counts_as_zero()
    {
        // Local clock stepped back between request and response.
        var age = Freshness.CorrectedInitialAge(T0, T0.AddSeconds(-3), T0.AddSeconds(-3), TimeSpan.FromSeconds(7));

        Assert.Equal(TimeSpan.FromSeconds(7), age);
    }

    [Fact]
    public void Rfc9111_4_2_3_Current_age_adds_resident_time()
    {
        var responseTime = T0.AddSeconds(2);
        var corrected = TimeSpan.FromSeconds(12);

        Assert.Equal(TimeSpan.FromSeconds(12), Freshness.CurrentAge(corrected, responseTime, responseTime));
        Assert.Equal(TimeSpan.FromSeconds(42), Freshness.CurrentAge(corrected, responseTime, responseTime.AddSeconds(30)));
        Assert.Equal(TimeSpan.FromSeconds(3612), Freshness.CurrentAge(corrected, responseTime, responseTime.AddHours(1)));
    }

    [Fact]
    public void Rfc9111_4_2_3_Current_age_never_goes_below_corrected_initial_age()
    {
        var responseTime = T0.AddSeconds(2);

        Assert.Equal(TimeSpan.FromSeconds(12), Freshness.CurrentAge(TimeSpan.FromSeconds(12), responseTime, responseTime.AddSeconds(-60)));
    }

    [Fact]
    public void Rfc9111_4_2_3_Age_arithmetic_with_fake_clock()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(T0);
        var requestTime = clock.GetUtcNow();
        clock.Advance(TimeSpan.FromMilliseconds(1500));
        var responseTime = clock.GetUtcNow();
        var corrected = Freshness.CorrectedInitialAge(requestTime, responseTime, T0, Freshness.ParseAge("20"));
        clock.Advance(TimeSpan.FromSeconds(40));

        var current = Freshness.CurrentAge(corrected, responseTime, clock.GetUtcNow());

        Assert.Equal(TimeSpan.FromSeconds(61.5), current);
        Assert.Equal(61, Freshness.AgeSeconds(current));
    }

    [Theory]
    [InlineData("0", 0)]
    [InlineData("30", 30)]
    [InlineData(" 30 ", 30)]
    [InlineData("abc", 2147483648)]
    [InlineData("-5", 2147483648)]
    [InlineData("1.5", 2147483648)]
    [InlineData("", 2147483648)]
    [InlineData("3 0", 2147483648)]
    [InlineData("7200;foo=bar", 2147483648)]
    [InlineData("7200s", 2147483648)]
    [InlineData("7200, 0", 7200)]
    [InlineData("10 , 7200", 10)]
    [InlineData("2147483648", 2147483648)]
    [InlineData("99999999999999", 2147483648)]
    public void Rfc9111_5_1_ParseAge_uses_the_first_member_and_reads_an_invalid_value_as_stale(string value, long expectedSeconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), Freshness.ParseAge(value));
    }

    [Fact]
    public void Rfc9111_5_1_ParseAge_absent_is_zero_and_several_values_use_the_first()
    {
        Assert.Equal(TimeSpan.Zero, Freshness.ParseAge(StringValues.Empty));
        Assert.Equal(TimeSpan.FromSeconds(20), Freshness.ParseAge(new StringValues(["20", "40"])));
    }

    [Fact]
    public void Rfc9111_5_1_AgeSeconds_truncates_and_caps()
    {
        Assert.Equal(42, Freshness.AgeSeconds(TimeSpan.FromSeconds(42.9)));
        Assert.Equal(0, Freshness.AgeSeconds(TimeSpan.FromMilliseconds(999)));
        Assert.Equal(2147483648, Freshness.AgeSeconds(TimeSpan.FromDays(100_000)));
    }
}
