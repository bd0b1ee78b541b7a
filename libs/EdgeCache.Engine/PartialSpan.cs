using System.Globalization;
using Microsoft.Extensions.Primitives;

namespace EdgeCache.Engine;

/// <summary>
/// The bytes a partial response holds (RFC 9110 §14.4): <see cref="First"/> to <see cref="Last"/>,
/// inclusive, of a representation of <see cref="Complete"/> bytes.
/// </summary>
public readonly record struct PartialSpan(long First, long Last, long Complete)
{
    /// <summary>How many bytes the span holds.</summary>
    public long Length => Last - First + 1;

    /// <summary>True when the span is the whole representation.</summary>
    public bool IsWhole => First == 0 && Last == Complete - 1;

    /// <summary>True when bytes [<paramref name="start"/>, <paramref name="start"/>+<paramref name="count"/>) lie inside the span.</summary>
    public bool Covers(long start, long count) => count > 0 && start >= First && start + count - 1 <= Last;

    /// <summary>The Content-Range value that describes the span.</summary>
    public string Format() => Format(First, Last - First + 1, Complete);

    /// <summary>A Content-Range value for <paramref name="count"/> bytes from <paramref name="start"/> of <paramref name="complete"/>.</summary>
    public static string Format(long start, long count, long complete) =>
        "bytes " + start.ToString(CultureInfo.InvariantCulture) + "-" + (start + count - 1).ToString(CultureInfo.InvariantCulture) + "/" + complete.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Reads a Content-Range field (RFC 9110 §14.4) that names one satisfied byte range of a known
    /// complete length: <c>bytes first-last/complete</c> with first ≤ last &lt; complete, on one field
    /// line. The range unit is case-insensitive (§14.1). Anything else (an unknown length <c>/*</c>, an
    /// unsatisfied range <c>*/n</c>, another unit, a list) is not a span.
    /// </summary>
    public static bool TryParse(StringValues contentRange, out PartialSpan span)
    {
        span = default;
        if (contentRange.Count != 1 || contentRange[0] is not { } raw) return false;
        var value = raw.AsSpan().Trim(" \t");
        if (!value.StartsWith("bytes ", StringComparison.OrdinalIgnoreCase)) return false;
        value = value[6..].TrimStart(' ');
        var dash = value.IndexOf('-');
        var slash = value.IndexOf('/');
        if (dash <= 0 || slash <= dash + 1) return false;
        if (!long.TryParse(value[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out var first)
            || !long.TryParse(value[(dash + 1)..slash], NumberStyles.None, CultureInfo.InvariantCulture, out var last)
            || !long.TryParse(value[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var complete))
        {
            return false;
        }

        if (first > last || last >= complete) return false;
        span = new PartialSpan(first, last, complete);
        return true;
    }

    /// <summary>
    /// The one span two spans of the same representation make when they overlap or touch
    /// (RFC 9110 §15.3.7.3: a larger continuous range), or null when a gap is left between them or
    /// their complete lengths differ.
    /// </summary>
    public static PartialSpan? Union(PartialSpan a, PartialSpan b)
    {
        if (a.Complete != b.Complete) return null;
        if (b.First > a.Last + 1 || a.First > b.Last + 1) return null;
        return new PartialSpan(Math.Min(a.First, b.First), Math.Max(a.Last, b.Last), a.Complete);
    }
}
