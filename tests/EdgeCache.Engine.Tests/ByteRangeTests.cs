using Microsoft.Extensions.Primitives;

namespace EdgeCache.Engine.Tests;

public class ByteRangeTests
{
    private const long Length = 100;

    private static (RangeOutcome Outcome, long Start, long Count) Evaluate(StringValues range, long length = Length)
    {
        var outcome = ByteRange.Evaluate(range, length, out var start, out var count);
        return (outcome, start, count);
    }

    [Theory]
    [InlineData("bytes=0-9", 0, 10)]
    [InlineData("bytes=0-0", 0, 1)]
    [InlineData("bytes=10-19", 10, 10)]
    [InlineData("bytes=99-99", 99, 1)]
    [InlineData("bytes=0-99", 0, 100)]
    [InlineData("BYTES=0-9", 0, 10)]
    [InlineData("  bytes=0-9  ", 0, 10)]
    public void Rfc9110_14_1_2_Closed_range(string range, long start, long count)
    {
        Assert.Equal((RangeOutcome.Partial, start, count), Evaluate(range));
    }

    [Theory]
    [InlineData("bytes=50-999", 50, 50)]
    [InlineData("bytes=0-9223372036854775807", 0, 100)]
    public void Rfc9110_14_1_2_Last_position_past_the_end_is_clamped(string range, long start, long count)
    {
        Assert.Equal((RangeOutcome.Partial, start, count), Evaluate(range));
    }

    [Theory]
    [InlineData("bytes=90-", 90, 10)]
    [InlineData("bytes=0-", 0, 100)]
    [InlineData("bytes=99-", 99, 1)]
    public void Rfc9110_14_1_2_Open_ended_range(string range, long start, long count)
    {
        Assert.Equal((RangeOutcome.Partial, start, count), Evaluate(range));
    }

    [Theory]
    [InlineData("bytes=-10", 90, 10)]
    [InlineData("bytes=-1", 99, 1)]
    [InlineData("bytes=-100", 0, 100)]
    public void Rfc9110_14_1_3_Suffix_range(string range, long start, long count)
    {
        Assert.Equal((RangeOutcome.Partial, start, count), Evaluate(range));
    }

    [Fact]
    public void Rfc9110_14_1_3_Suffix_longer_than_the_body_selects_all_of_it_as_206()
    {
        Assert.Equal((RangeOutcome.Partial, 0L, 100L), Evaluate("bytes=-200"));
    }

    [Theory]
    [InlineData("bytes=100-")]
    [InlineData("bytes=100-199")]
    [InlineData("bytes=150-200")]
    [InlineData("bytes=-0")]
    [InlineData("bytes=100-, 200-300")]
    public void Rfc9110_14_1_1_First_position_beyond_the_end_is_unsatisfiable(string range)
    {
        Assert.Equal(RangeOutcome.Unsatisfiable, Evaluate(range).Outcome);
    }

    [Theory]
    [InlineData("bytes=0-")]
    [InlineData("bytes=-5")]
    public void Rfc9110_14_1_1_Any_range_of_an_empty_body_is_unsatisfiable(string range)
    {
        Assert.Equal(RangeOutcome.Unsatisfiable, Evaluate(range, length: 0).Outcome);
    }

    [Fact]
    public void Rfc9110_14_1_1_Unsatisfiable_member_is_skipped_when_another_is_satisfiable()
    {
        Assert.Equal((RangeOutcome.Partial, 0L, 10L), Evaluate("bytes=200-300, 0-9"));
    }

    [Theory]
    [InlineData("bytes=abc")]
    [InlineData("bytes=5")]
    [InlineData("bytes=-")]
    [InlineData("bytes=a-9")]
    [InlineData("bytes=0-b")]
    [InlineData("bytes=9-0")]
    [InlineData("bytes=-5-")]
    [InlineData("bytes=+1-5")]
    [InlineData("bytes=-+5")]
    [InlineData("bytes=0-9, x")]
    [InlineData("bytes=99999999999999999999-")]
    [InlineData("bytes=")]
    [InlineData("bytes=,")]
    [InlineData("bytes= , ")]
    [InlineData("bytes 0-9")]
    [InlineData("bytes")]
    public void Rfc9110_14_2_Malformed_range_is_ignored_and_the_full_body_sent(string range)
    {
        Assert.Equal((RangeOutcome.Full, 0L, Length), Evaluate(range));
    }

    [Theory]
    [InlineData("items=0-9")]
    [InlineData("none")]
    [InlineData("bytesx=0-9")]
    public void Rfc9110_14_2_Other_range_units_are_ignored(string range)
    {
        Assert.Equal((RangeOutcome.Full, 0L, Length), Evaluate(range));
    }

    [Fact]
    public void Rfc9110_14_2_Absent_or_repeated_Range_field_is_ignored()
    {
        Assert.Equal((RangeOutcome.Full, 0L, Length), Evaluate(StringValues.Empty));
        Assert.Equal((RangeOutcome.Full, 0L, Length), Evaluate(""));
        Assert.Equal((RangeOutcome.Full, 0L, Length), Evaluate(new StringValues(["bytes=0-9", "bytes=10-19"])));
    }

    [Theory]
    [InlineData("bytes=0-9,5-19", 0, 20)]
    [InlineData("bytes=5-19,0-9", 0, 20)]
    [InlineData("bytes=0-9,10-19", 0, 20)]
    [InlineData("bytes=10-19,0-9", 0, 20)]
    [InlineData("bytes=0-49, 10-20", 0, 50)]
    [InlineData("bytes=90-, -5", 90, 10)]
    [InlineData("bytes=0-4,,5-9", 0, 10)]
    [InlineData("bytes=0-1,2-3,4-5,6-7", 0, 8)]
    public void Rfc9110_14_2_Overlapping_or_adjacent_ranges_are_coalesced(string range, long start, long count)
    {
        Assert.Equal((RangeOutcome.Partial, start, count), Evaluate(range));
    }

    [Theory]
    [InlineData("bytes=0-9,20-29")]
    [InlineData("bytes=20-29,0-9")]
    [InlineData("bytes=0-0,-1")]
    public void Rfc9110_14_2_Disjoint_ranges_send_the_full_body(string range)
    {
        Assert.Equal((RangeOutcome.Full, 0L, Length), Evaluate(range));
    }

    [Fact]
    public void Rfc9110_14_2_Sixteen_ranges_are_honoured_and_seventeen_ignored()
    {
        var sixteen = "bytes=" + string.Join(",", Enumerable.Range(0, 16).Select(i => $"{i}-{i}"));
        var seventeen = "bytes=" + string.Join(",", Enumerable.Range(0, 17).Select(i => $"{i}-{i}"));

        Assert.Equal(16, ByteRange.MaxRanges);
        Assert.Equal((RangeOutcome.Partial, 0L, 16L), Evaluate(sixteen));
        Assert.Equal((RangeOutcome.Full, 0L, Length), Evaluate(seventeen));
    }

    [Fact]
    public void Rfc9110_14_2_Many_overlapping_copies_of_one_range_are_ignored()
    {
        var many = "bytes=" + string.Join(",", Enumerable.Repeat("0-9", 100));

        Assert.Equal((RangeOutcome.Full, 0L, Length), Evaluate(many));
    }
}
