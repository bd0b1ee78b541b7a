using Microsoft.Extensions.Primitives;

namespace EdgeCache.Engine;

public enum RangeOutcome
{
    /// <summary>No Range field, or one this cache ignores (not bytes, malformed, several ranges): send 200.</summary>
    Full,

    /// <summary>A single satisfiable range: send 206.</summary>
    Partial,

    /// <summary>No range overlaps the representation: send 416.</summary>
    Unsatisfiable,
}

/// <summary>Single byte-range requests (RFC 9110 §14.1.2, §14.2).</summary>
public static class ByteRange
{
    /// <summary>Most ranges in one request before the cache ignores the field and sends 200.</summary>
    public const int MaxRanges = 16;

    /// <summary>
    /// Evaluates a Range field against a body of <paramref name="length"/> bytes. Multiple ranges
    /// are coalesced when they overlap or touch into one; otherwise the full body is sent (a server
    /// may ignore Range, §14.2), which never costs an upstream request.
    /// </summary>
    public static RangeOutcome Evaluate(StringValues range, long length, out long start, out long count)
    {
        start = 0;
        count = length;
        if (range.Count != 1 || string.IsNullOrEmpty(range[0])) return RangeOutcome.Full;
        var value = range[0].AsSpan().Trim();
        if (!value.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase)) return RangeOutcome.Full;
        value = value[6..];

        Span<(long Start, long End)> satisfiable = stackalloc (long, long)[MaxRanges];
        var found = 0;
        var n = 0;
        var specs = 0;
        foreach (var part in value.ToString().Split(','))
        {
            if (++n > MaxRanges) return RangeOutcome.Full;
            var spec = part.AsSpan().Trim(" \t");
            if (spec.IsEmpty) continue;
            specs++;
            if (!TryParse(spec, length, out var s, out var e, out var ok)) return RangeOutcome.Full;
            if (ok) satisfiable[found++] = (s, e);
        }

        // "bytes=" with no range-spec at all is malformed (range-set needs one), not unsatisfiable.
        if (specs == 0) return RangeOutcome.Full;
        if (found == 0) return RangeOutcome.Unsatisfiable;

        // Coalesce in order of start, whatever order the client sent them in: ranges that overlap or
        // touch become one; if a gap remains, the whole representation is sent instead (one 200, never
        // more bytes than the body, never a multipart amplification).
        var ranges = satisfiable[..found];
        ranges.Sort(static (a, b) => a.Start.CompareTo(b.Start));
        long lo = ranges[0].Start, hi = ranges[0].End;
        for (var i = 1; i < ranges.Length; i++)
        {
            if (ranges[i].Start > hi + 1) return RangeOutcome.Full; // disjoint: send it all
            hi = Math.Max(hi, ranges[i].End);
        }

        start = lo;
        count = hi - lo + 1;
        return RangeOutcome.Partial;
    }

    private static bool TryParse(ReadOnlySpan<char> spec, long length, out long start, out long end, out bool satisfiable)
    {
        start = end = 0;
        satisfiable = false;
        var dash = spec.IndexOf('-');
        if (dash < 0) return false;
        var first = spec[..dash].Trim();
        var last = spec[(dash + 1)..].Trim();
        if (first.IsEmpty)
        {
            // suffix-range: the last N bytes; longer than the body selects all of it (§14.1.3).
            if (!long.TryParse(last, System.Globalization.NumberStyles.None, null, out var suffix)) return false;
            if (suffix == 0 || length == 0) return true;
            start = Math.Max(0, length - suffix);
            end = length - 1;
            satisfiable = true;
            return true;
        }

        if (!long.TryParse(first, System.Globalization.NumberStyles.None, null, out start)) return false;
        if (last.IsEmpty)
        {
            end = length - 1;
        }
        else
        {
            if (!long.TryParse(last, System.Globalization.NumberStyles.None, null, out end) || end < start) return false;
            end = Math.Min(end, length - 1);
        }

        satisfiable = start < length;
        return true;
    }
}
