using static EdgeCache.Engine.Tests.TestData;

namespace EdgeCache.Engine.Tests;

public class ConditionalsTests
{
    private static readonly DateTimeOffset LastModified = T0.AddDays(-1);

    private static CachedResponse WithETag(string etag) =>
        Stored(Headers(("Date", Http(T0)), ("Cache-Control", "max-age=60"), ("ETag", etag), ("Last-Modified", Http(LastModified))));

    private static CachedResponse WithLastModified() =>
        Stored(Headers(("Date", Http(T0)), ("Cache-Control", "max-age=60"), ("Last-Modified", Http(LastModified))));

    [Fact]
    public void Rfc9110_13_1_HasConditions_sees_each_precondition_field()
    {
        Assert.False(Conditionals.HasConditions(Headers(("Range", "bytes=0-1"), ("If-Range", "\"a\""))));
        Assert.True(Conditionals.HasConditions(Headers(("If-None-Match", "\"a\""))));
        Assert.True(Conditionals.HasConditions(Headers(("If-Modified-Since", Http(T0)))));
        Assert.True(Conditionals.HasConditions(Headers(("If-Match", "\"a\""))));
        Assert.True(Conditionals.HasConditions(Headers(("If-Unmodified-Since", Http(T0)))));
    }

    [Theory]
    [InlineData("\"v1\"", "\"v1\"", true)]
    [InlineData("\"v1\"", "W/\"v1\"", true)]
    [InlineData("W/\"v1\"", "\"v1\"", true)]
    [InlineData("W/\"v1\"", "W/\"v1\"", true)]
    [InlineData("\"v1\"", "\"v2\"", false)]
    [InlineData("\"v1\"", "\"V1\"", false)]
    [InlineData("\"v1\"", "W/\"v2\"", false)]
    public void Rfc9110_13_1_2_If_None_Match_uses_weak_comparison(string stored, string ifNoneMatch, bool notModified)
    {
        Assert.Equal(notModified, Conditionals.IsNotModified(Headers(("If-None-Match", ifNoneMatch)), WithETag(stored)));
    }

    [Theory]
    [InlineData("\"a\", \"v1\", \"b\"")]
    [InlineData("\"a\",W/\"v1\"")]
    [InlineData("*")]
    public void Rfc9110_13_1_2_If_None_Match_list_or_star_matches(string ifNoneMatch)
    {
        Assert.True(Conditionals.IsNotModified(Headers(("If-None-Match", ifNoneMatch)), WithETag("\"v1\"")));
    }

    [Fact]
    public void Rfc9110_13_1_2_If_None_Match_over_several_field_lines()
    {
        var request = Headers(("If-None-Match", "\"a\""), ("If-None-Match", "\"v1\""));

        Assert.True(Conditionals.IsNotModified(request, WithETag("\"v1\"")));
        Assert.False(Conditionals.IsNotModified(Headers(("If-None-Match", "\"a\""), ("If-None-Match", "\"b\"")), WithETag("\"v1\"")));
    }

    [Fact]
    public void Rfc9110_13_1_2_If_None_Match_without_stored_ETag_is_modified()
    {
        Assert.False(Conditionals.IsNotModified(Headers(("If-None-Match", "\"v1\"")), WithLastModified()));
    }

    [Fact]
    public void Rfc9110_13_1_3_If_Modified_Since_at_or_after_Last_Modified_is_not_modified()
    {
        var stored = WithLastModified();

        Assert.True(Conditionals.IsNotModified(Headers(("If-Modified-Since", Http(LastModified))), stored));
        Assert.True(Conditionals.IsNotModified(Headers(("If-Modified-Since", Http(LastModified.AddHours(1)))), stored));
        Assert.False(Conditionals.IsNotModified(Headers(("If-Modified-Since", Http(LastModified.AddSeconds(-1)))), stored));
    }

    [Fact]
    public void Rfc9111_4_3_2_If_Modified_Since_without_Last_Modified_compares_with_Date()
    {
        var stored = Stored(Headers(("Date", Http(T0)), ("Cache-Control", "max-age=60")));

        Assert.Null(stored.LastModified);
        Assert.True(Conditionals.IsNotModified(Headers(("If-Modified-Since", Http(T0))), stored));
        Assert.False(Conditionals.IsNotModified(Headers(("If-Modified-Since", Http(T0.AddSeconds(-1)))), stored));
    }

    [Theory]
    [InlineData("yesterday")]
    [InlineData("")]
    [InlineData("Wed, 01 Jan 2025 12:00:00 +0000")] // all after Last-Modified, none an HTTP-date
    [InlineData("Wed, 01 Jan 2025 12:00:00 UTC")]
    [InlineData("Wed, 01 Jan 2025 12:00:00")]
    [InlineData("wed, 01 jan 2025 12:00:00 gmt")]
    [InlineData("Wed, 1 Jan 2025 12:00:00 GMT")]
    [InlineData("01 Jan 2025 12:00:00 GMT")]
    [InlineData("Thu, 01 Jan 2025 12:00:00 GMT")]
    public void Rfc9110_13_1_3_Invalid_If_Modified_Since_is_ignored(string value)
    {
        Assert.False(Conditionals.IsNotModified(Headers(("If-Modified-Since", value)), WithLastModified()));
    }

    [Fact]
    public void Rfc9110_13_1_3_an_If_Modified_Since_with_more_than_one_member_is_ignored()
    {
        // "A recipient MUST ignore the If-Modified-Since header field if ... the field value has more
        // than one member": two lines, whichever comes first.
        var stored = WithLastModified();
        var after = Http(LastModified.AddHours(1));
        var before = Http(LastModified.AddHours(-1));

        Assert.False(Conditionals.IsNotModified(Headers(("If-Modified-Since", after), ("If-Modified-Since", before)), stored));
        Assert.False(Conditionals.IsNotModified(Headers(("If-Modified-Since", after), ("If-Modified-Since", after)), stored));
        Assert.False(Conditionals.IsNotModified(Headers(("If-Modified-Since", after + ", " + after)), stored));
        Assert.True(Conditionals.IsNotModified(Headers(("If-Modified-Since", after)), stored));
    }

    [Theory]
    [InlineData("Tuesday, 31-Dec-24 12:00:00 GMT")]
    [InlineData("Tue Dec 31 12:00:00 2024")]
    public void Rfc9110_5_6_7_If_Modified_Since_in_the_obsolete_forms_is_evaluated(string value)
    {
        var stored = WithLastModified();

        Assert.True(Conditionals.IsNotModified(Headers(("If-Modified-Since", value)), stored));
        Assert.True(Conditionals.IsNotModified(Headers(("If-Modified-Since", value)), stored, T0));
    }

    [Fact]
    public void Rfc9110_13_2_2_If_None_Match_takes_precedence_over_If_Modified_Since()
    {
        var stored = WithETag("\"v1\"");

        // The dates alone would say "not modified", the tag says changed.
        Assert.False(Conditionals.IsNotModified(Headers(("If-None-Match", "\"v0\""), ("If-Modified-Since", Http(T0))), stored));
        // The tag matches; the dates alone would say "modified".
        Assert.True(Conditionals.IsNotModified(Headers(("If-None-Match", "\"v1\""), ("If-Modified-Since", Http(LastModified.AddDays(-1)))), stored));
    }

    [Fact]
    public void Rfc9110_13_1_No_conditions_means_modified()
    {
        Assert.False(Conditionals.IsNotModified(Headers(), WithETag("\"v1\"")));
    }

    [Fact]
    public void Rfc9110_15_4_5_Only_a_stored_200_is_answered_304()
    {
        var notFound = CachedResponseFactory.Create(
            404, Headers(("Date", Http(T0)), ("ETag", "\"v1\"")), Headers(), CacheBody.FromBytes([]), T0, T0, HeuristicOptions.Default);

        Assert.False(Conditionals.IsNotModified(Headers(("If-None-Match", "\"v1\"")), notFound));
    }

    [Fact]
    public void Rfc9110_13_1_5_Absent_If_Range_allows_the_range()
    {
        Assert.True(Conditionals.IfRangeAllows(Headers(), WithETag("W/\"v1\"")));
    }

    [Theory]
    [InlineData("\"v1\"", "\"v1\"", true)]
    [InlineData("\"v1\"", " \"v1\" ", true)]
    [InlineData("\"v1\"", "\"v2\"", false)]
    [InlineData("W/\"v1\"", "W/\"v1\"", false)]
    [InlineData("W/\"v1\"", "\"v1\"", false)]
    [InlineData("\"v1\"", "W/\"v1\"", false)]
    public void Rfc9110_13_1_5_If_Range_entity_tag_uses_strong_comparison(string stored, string ifRange, bool allowed)
    {
        Assert.Equal(allowed, Conditionals.IfRangeAllows(Headers(("If-Range", ifRange)), WithETag(stored)));
    }

    [Fact]
    public void Rfc9110_13_1_5_If_Range_entity_tag_without_stored_ETag_does_not_allow()
    {
        Assert.False(Conditionals.IfRangeAllows(Headers(("If-Range", "\"v1\"")), WithLastModified()));
    }

    [Theory]
    [InlineData(0, false)]   // Last-Modified equal to Date: it may have changed again within that second
    [InlineData(1, true)]    // "a Date value which is at least one second after the Last-Modified value"
    [InlineData(3600, true)]
    public void Rfc9110_8_8_2_2_If_Range_date_matches_only_a_Last_Modified_a_second_or_more_before_the_entrys_Date(int secondsBeforeDate, bool allowed)
    {
        var lastModified = T0.AddSeconds(-secondsBeforeDate);
        var stored = Stored(Headers(("Date", Http(T0)), ("Cache-Control", "max-age=60"), ("Last-Modified", Http(lastModified))));
        Assert.Equal(allowed, Conditionals.IfRangeAllows(Headers(("If-Range", Http(lastModified))), stored));
    }

    [Fact]
    public void Rfc9110_13_1_5_If_Range_date_must_equal_Last_Modified_exactly()
    {
        var stored = WithLastModified();

        Assert.True(Conditionals.IfRangeAllows(Headers(("If-Range", Http(LastModified))), stored));
        Assert.False(Conditionals.IfRangeAllows(Headers(("If-Range", Http(LastModified.AddSeconds(1)))), stored));
        Assert.False(Conditionals.IfRangeAllows(Headers(("If-Range", Http(LastModified.AddSeconds(-1)))), stored));
        Assert.False(Conditionals.IfRangeAllows(Headers(("If-Range", "not a date")), stored));
    }

    [Theory]
    [InlineData("Tue, 31 Dec 2024 12:00:00 +0000", false)] // Last-Modified, but not as an HTTP-date
    [InlineData("Tue, 31 Dec 2024 12:00:00 UTC", false)]
    [InlineData("Tue, 31 Dec 2024 12:00:00 gmt", false)]
    [InlineData("Tue, 31 Dec 2024 12:00:00", false)]
    [InlineData("31 Dec 2024 12:00:00 GMT", false)]
    [InlineData("Tue, 31 Dec 2024 12:00:00 GMT", true)]
    [InlineData("Tuesday, 31-Dec-24 12:00:00 GMT", true)]
    [InlineData("Tue Dec 31 12:00:00 2024", true)]
    public void Rfc9110_13_1_5_If_Range_with_an_invalid_date_does_not_allow_the_range(string ifRange, bool allowed)
    {
        Assert.Equal(allowed, Conditionals.IfRangeAllows(Headers(("If-Range", ifRange)), WithLastModified(), T0));
    }

    [Fact]
    public void Rfc9110_13_1_5_an_If_Range_over_two_field_lines_does_not_allow_the_range()
    {
        // If-Range is one validator: two lines are not one entity-tag or one HTTP-date.
        var stored = WithETag("\"v1\"");

        Assert.True(Conditionals.IfRangeAllows(Headers(("If-Range", Http(LastModified))), stored));
        Assert.False(Conditionals.IfRangeAllows(Headers(("If-Range", Http(LastModified)), ("If-Range", Http(LastModified))), stored));
        Assert.True(Conditionals.IfRangeAllows(Headers(("If-Range", "\"v1\"")), stored));
        Assert.False(Conditionals.IfRangeAllows(Headers(("If-Range", "\"v1\""), ("If-Range", "\"v2\"")), stored));
    }

    [Fact]
    public void Rfc9110_13_1_5_If_Range_date_without_Last_Modified_does_not_allow()
    {
        var stored = Stored(Headers(("Date", Http(T0)), ("Cache-Control", "max-age=60")));

        Assert.False(Conditionals.IfRangeAllows(Headers(("If-Range", Http(T0))), stored));
    }

    [Theory]
    [InlineData("\"a,b\"", "\"a,b\"", true)]
    [InlineData("\"x\", \"a,b\"", "\"a,b\"", true)]
    [InlineData("W/\"a, b\" , \"c\"", "\"a, b\"", true)]
    [InlineData("\"a\"", "\"a,b\"", false)]
    [InlineData("\"b\"", "\"a,b\"", false)]
    [InlineData("junk, \"a,b\"", "\"a,b\"", true)]
    [InlineData("\"unterminated", "\"unterminated\"", false)]
    public void Rfc9110_8_8_3_an_entity_tag_with_a_comma_still_matches(string ifNoneMatch, string stored, bool notModified)
    {
        Assert.Equal(notModified, Conditionals.IsNotModified(Headers(("If-None-Match", ifNoneMatch)), WithETag(stored)));
    }
}
