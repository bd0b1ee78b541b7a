using Microsoft.Extensions.Primitives;

namespace EdgeCache.Engine.Tests;

public class CacheDirectivesTests
{
    private const long Invalid = -1;

    [Fact]
    public void Rfc9111_5_2_Absent_or_empty_field_has_no_directives()
    {
        Assert.Equal(new CacheDirectives(), CacheDirectives.Parse(StringValues.Empty));
        Assert.Equal(new CacheDirectives(), CacheDirectives.Parse(""));
        Assert.False(CacheDirectives.Parse(StringValues.Empty).Present);
    }

    [Theory]
    [InlineData("no-store")]
    [InlineData("no-cache")]
    [InlineData("private")]
    [InlineData("public")]
    [InlineData("must-revalidate")]
    [InlineData("proxy-revalidate")]
    [InlineData("only-if-cached")]
    [InlineData("no-transform")]
    [InlineData("immutable")]
    public void Rfc9111_5_2_Each_flag_directive_sets_exactly_its_flag(string directive)
    {
        var expected = directive switch
        {
            "no-store" => new CacheDirectives { Present = true, NoStore = true },
            "no-cache" => new CacheDirectives { Present = true, NoCache = true },
            "private" => new CacheDirectives { Present = true, Private = true },
            "public" => new CacheDirectives { Present = true, Public = true },
            "must-revalidate" => new CacheDirectives { Present = true, MustRevalidate = true },
            "proxy-revalidate" => new CacheDirectives { Present = true, ProxyRevalidate = true },
            "only-if-cached" => new CacheDirectives { Present = true, OnlyIfCached = true },
            "no-transform" => new CacheDirectives { Present = true, NoTransform = true },
            "immutable" => new CacheDirectives { Present = true, Immutable = true },
            _ => throw new ArgumentOutOfRangeException(nameof(directive)),
        };

        Assert.Equal(expected, CacheDirectives.Parse(directive));
    }

    [Theory]
    [InlineData("max-age=60")]
    [InlineData("s-maxage=120")]
    [InlineData("min-fresh=5")]
    [InlineData("max-stale=30")]
    [InlineData("stale-while-revalidate=10")]
    [InlineData("stale-if-error=300")]
    public void Rfc9111_5_2_Each_delta_seconds_directive_sets_exactly_its_value(string directive)
    {
        var expected = directive switch
        {
            "max-age=60" => new CacheDirectives { Present = true, MaxAge = 60 },
            "s-maxage=120" => new CacheDirectives { Present = true, SharedMaxAge = 120 },
            "min-fresh=5" => new CacheDirectives { Present = true, MinFresh = 5 },
            "max-stale=30" => new CacheDirectives { Present = true, MaxStale = 30 },
            "stale-while-revalidate=10" => new CacheDirectives { Present = true, StaleWhileRevalidate = 10 },
            "stale-if-error=300" => new CacheDirectives { Present = true, StaleIfError = 300 },
            _ => throw new ArgumentOutOfRangeException(nameof(directive)),
        };

        Assert.Equal(expected, CacheDirectives.Parse(directive));
    }

    [Fact]
    public void Rfc9111_5_2_Full_list_on_one_line()
    {
        var d = CacheDirectives.Parse(
            "public, max-age=60, s-maxage=120, stale-while-revalidate=30, stale-if-error=600, must-revalidate, proxy-revalidate, no-transform, immutable");

        Assert.Equal(
            new CacheDirectives
            {
                Present = true,
                Public = true,
                MaxAge = 60,
                SharedMaxAge = 120,
                StaleWhileRevalidate = 30,
                StaleIfError = 600,
                MustRevalidate = true,
                ProxyRevalidate = true,
                NoTransform = true,
                Immutable = true,
            },
            d);
    }

    [Fact]
    public void Rfc9111_5_2_1_Request_directives()
    {
        var d = CacheDirectives.Parse("no-cache, no-store, max-age=0, max-stale=10, min-fresh=20, only-if-cached");

        Assert.Equal(
            new CacheDirectives { Present = true, NoCache = true, NoStore = true, MaxAge = 0, MaxStale = 10, MinFresh = 20, OnlyIfCached = true },
            d);
    }

    [Fact]
    public void Rfc9111_5_2_1_2_Max_stale_without_value_accepts_any_staleness()
    {
        Assert.Equal(long.MaxValue, CacheDirectives.Parse("max-stale").MaxStale);
        Assert.Equal(long.MaxValue, CacheDirectives.Parse("no-cache, max-stale").MaxStale);
    }

    [Theory]
    [InlineData("max-stale=")]
    [InlineData("max-stale=abc")]
    [InlineData("max-stale=-1")]
    public void Rfc9111_5_2_1_2_Max_stale_with_malformed_value_is_invalid(string field)
    {
        Assert.Equal(Invalid, CacheDirectives.Parse(field).MaxStale);
    }

    [Theory]
    [InlineData("max-age=\"60\"")]
    [InlineData("max-age = \"60\"")]
    public void Rfc9111_5_2_Quoted_string_argument_is_accepted(string field)
    {
        Assert.Equal(60, CacheDirectives.Parse(field).MaxAge);
    }

    [Fact]
    public void Rfc9111_5_2_Quoted_arguments_for_every_delta_directive()
    {
        var d = CacheDirectives.Parse("s-maxage=\"7\", stale-while-revalidate=\"8\", stale-if-error=\"9\", min-fresh=\"10\", max-stale=\"11\"");

        Assert.Equal(7, d.SharedMaxAge);
        Assert.Equal(8, d.StaleWhileRevalidate);
        Assert.Equal(9, d.StaleIfError);
        Assert.Equal(10, d.MinFresh);
        Assert.Equal(11, d.MaxStale);
    }

    [Theory]
    [InlineData("MAX-AGE=60, NO-STORE, Public")]
    [InlineData("Max-Age=60, No-Store, PUBLIC")]
    [InlineData("max-age=60, no-store, public")]
    public void Rfc9111_5_2_Directive_names_are_case_insensitive(string field)
    {
        Assert.Equal(new CacheDirectives { Present = true, MaxAge = 60, NoStore = true, Public = true }, CacheDirectives.Parse(field));
    }

    [Theory]
    [InlineData("max-age=60,no-cache")]
    [InlineData("  max-age=60 ,\tno-cache  ")]
    [InlineData("max-age = 60, no-cache")]
    [InlineData(", max-age=60,, ,no-cache,")]
    public void Rfc9110_5_6_1_Optional_whitespace_and_empty_list_elements_are_ignored(string field)
    {
        Assert.Equal(new CacheDirectives { Present = true, MaxAge = 60, NoCache = true }, CacheDirectives.Parse(field));
    }

    [Fact]
    public void Rfc9110_5_3_Multiple_field_lines_are_combined()
    {
        var d = CacheDirectives.Parse(new StringValues(["max-age=60", "no-cache", "", "s-maxage=5, public"]));

        Assert.Equal(new CacheDirectives { Present = true, MaxAge = 60, NoCache = true, SharedMaxAge = 5, Public = true }, d);
    }

    [Theory]
    [InlineData("max-age=60, max-age=10", 60)]
    [InlineData("max-age=10, max-age=60", 10)]
    [InlineData("max-age=abc, max-age=60", Invalid)]
    public void Rfc9111_4_2_1_Duplicate_directive_first_occurrence_wins(string field, long expected)
    {
        Assert.Equal(expected, CacheDirectives.Parse(field).MaxAge);
    }

    [Fact]
    public void Rfc9111_4_2_1_Duplicate_directive_across_lines_first_occurrence_wins()
    {
        var d = CacheDirectives.Parse(new StringValues(["max-age=60, s-maxage=1, stale-if-error=2, min-fresh=3, max-stale=4, stale-while-revalidate=5",
            "max-age=10, s-maxage=11, stale-if-error=12, min-fresh=13, max-stale=14, stale-while-revalidate=15"]));

        Assert.Equal(new CacheDirectives { Present = true, MaxAge = 60, SharedMaxAge = 1, StaleIfError = 2, MinFresh = 3, MaxStale = 4, StaleWhileRevalidate = 5 }, d);
    }

    [Theory]
    [InlineData("max-age=abc")]
    [InlineData("max-age=-1")]
    [InlineData("max-age=")]
    [InlineData("max-age= ")]
    [InlineData("max-age")]
    [InlineData("max-age=\"\"")]
    [InlineData("max-age=1.5")]
    [InlineData("max-age=+5")]
    [InlineData("max-age=6 0")]
    [InlineData("max-age=0x10")]
    public void Rfc9111_1_2_2_Malformed_delta_seconds_is_invalid(string field)
    {
        var d = CacheDirectives.Parse(field);

        Assert.True(d.Present);
        Assert.Equal(Invalid, d.MaxAge);
    }

    [Theory]
    [InlineData("s-maxage=abc")]
    [InlineData("s-maxage")]
    [InlineData("s-maxage=-5")]
    public void Rfc9111_1_2_2_Malformed_s_maxage_is_invalid(string field)
    {
        Assert.Equal(Invalid, CacheDirectives.Parse(field).SharedMaxAge);
    }

    [Theory]
    [InlineData("stale-while-revalidate")]
    [InlineData("stale-while-revalidate=x")]
    public void Rfc5861_Malformed_stale_while_revalidate_is_invalid(string field)
    {
        Assert.Equal(Invalid, CacheDirectives.Parse(field).StaleWhileRevalidate);
    }

    [Theory]
    [InlineData("max-age=0", 0)]
    [InlineData("max-age=2147483647", 2147483647)]
    [InlineData("max-age=2147483648", 2147483648)]
    [InlineData("max-age=2147483649", 2147483648)]
    [InlineData("max-age=99999999999", 2147483648)]
    [InlineData("max-age=999999999999999999999999999999999999", 2147483648)]
    [InlineData("max-age=000000000000000000000000000000000060", 60)]
    public void Rfc9111_1_2_2_Delta_seconds_overflow_caps_at_2147483648(string field, long expected)
    {
        Assert.Equal(expected, CacheDirectives.Parse(field).MaxAge);
    }

    [Fact]
    public void Rfc9111_1_2_2_Cap_constant_is_2_to_the_31()
    {
        Assert.Equal(2147483648L, CacheDirectives.MaxDeltaSeconds);
    }

    [Theory]
    [InlineData("foo, max-age=60")]
    [InlineData("community=\"UCI\", max-age=60")]
    [InlineData("max-age=60, x-ext=\"a,b\", bar=baz")]
    [InlineData("maxage=5, max-age=60, max-ages=7")]
    public void Rfc9111_5_2_3_Unknown_directives_are_ignored(string field)
    {
        Assert.Equal(new CacheDirectives { Present = true, MaxAge = 60 }, CacheDirectives.Parse(field));
    }

    [Theory]
    [InlineData("no-cache=\"a,b\", max-age=5")]
    [InlineData("private=\"Set-Cookie, X-Foo\", no-cache, max-age=5")]
    [InlineData("x-ext=\"say \\\"hi, there\\\"\", no-cache, max-age=5")]
    public void Rfc9110_5_6_4_Commas_inside_quoted_strings_do_not_split_directives(string field)
    {
        var d = CacheDirectives.Parse(field);

        Assert.True(d.NoCache);
        Assert.Equal(5, d.MaxAge);
    }

    [Fact]
    public void Rfc9111_5_2_2_4_Qualified_no_cache_and_private_are_read_as_unqualified()
    {
        var d = CacheDirectives.Parse("no-cache=\"Set-Cookie\", private=\"Authorization\"");

        Assert.Equal(new CacheDirectives { Present = true, NoCache = true, Private = true }, d);
    }
}
