using Microsoft.Extensions.Primitives;

namespace EdgeCache.Engine;

/// <summary>
/// HTTP-date (RFC 9110 §5.6.7), read strictly: exactly the three defined forms, IMF-fixdate
/// (<c>Sun, 06 Nov 1994 08:49:37 GMT</c>), the obsolete RFC 850 form (<c>Sunday, 06-Nov-94 08:49:37 GMT</c>)
/// and asctime (<c>Sun Nov  6 08:49:37 1994</c>). HTTP-date is case-sensitive, so day and month
/// names must be spelt as listed and the zone must be <c>GMT</c>; there is one space wherever the
/// grammar has SP, two digits for hour, minute and second, and nothing else: no numeric offset,
/// no missing weekday, no extra text. Leading and trailing SP/HTAB (OWS around a field value) are
/// ignored. The values must name a real instant: the day must exist in its month (leap years
/// included) and the weekday must be the date's (a mismatched weekday is rejected). A leap second
/// (<c>23:59:60</c>, which the grammar allows) is read as 23:59:59, as DateTimeOffset has no leap seconds.
/// Parsing does not allocate.
/// </summary>
public static class HttpDate
{
    // Indexed by DayOfWeek.
    private static readonly string[] DayNames = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    private static readonly string[] LongDayNames = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

    // Indexed by month - 1.
    private static readonly string[] MonthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

    /// <summary>
    /// Parses an HTTP-date in one of the three forms of RFC 9110 §5.6.7. <paramref name="now"/> is
    /// the recipient's clock, needed only for the RFC 850 form's two-digit year: a year that would
    /// put the timestamp more than 50 years after <paramref name="now"/> is read as the most recent
    /// past year with the same last two digits. Returns false, with <paramref name="result"/> default,
    /// for anything else.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> value, DateTimeOffset now, out DateTimeOffset result)
    {
        result = default;
        var s = value.Trim(" \t");
        if (s.Length < 4) return false;
        return s[3] switch
        {
            ',' => TryImfFixdate(s, out result),
            ' ' => TryAsctime(s, out result),
            _ => TryRfc850(s, now, out result),
        };
    }

    /// <summary>
    /// Parses a field whose value is one HTTP-date (Date, Expires, Last-Modified, If-Modified-Since,
    /// If-Unmodified-Since, the date form of If-Range) as it arrived, every field line of it. A field
    /// sent as several lines is one value, the lines joined with commas (RFC 9110 §5.3), and no
    /// HTTP-date is two dates with a comma between them: so more than one line is invalid, never the
    /// first line read alone. Absent or empty: false.
    /// </summary>
    public static bool TryParseField(StringValues lines, DateTimeOffset now, out DateTimeOffset result)
    {
        result = default;
        return lines.Count == 1 && TryParse(lines[0], now, out result);
    }

    // Sun, 06 Nov 1994 08:49:37 GMT
    private static bool TryImfFixdate(ReadOnlySpan<char> s, out DateTimeOffset result)
    {
        result = default;
        if (s.Length != 29 || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[25] != ' ') return false;
        if (!s[26..].SequenceEqual("GMT")) return false;
        var weekday = IndexOf(DayNames, s[..3]);
        var day = Digits(s[5..7]);
        var month = IndexOf(MonthNames, s[8..11]) + 1;
        var year = Digits(s[12..16]);
        return TryTime(s[17..25], out var hour, out var minute, out var second)
            && TryBuild(year, month, day, hour, minute, second, weekday, out result);
    }

    // Sun Nov  6 08:49:37 1994
    private static bool TryAsctime(ReadOnlySpan<char> s, out DateTimeOffset result)
    {
        result = default;
        if (s.Length != 24 || s[7] != ' ' || s[10] != ' ' || s[19] != ' ') return false;
        var weekday = IndexOf(DayNames, s[..3]);
        var month = IndexOf(MonthNames, s[4..7]) + 1;

        // 2DIGIT / ( SP DIGIT )
        var day = s[8] == ' ' ? Digits(s[9..10]) : Digits(s[8..10]);
        var year = Digits(s[20..24]);
        return TryTime(s[11..19], out var hour, out var minute, out var second)
            && TryBuild(year, month, day, hour, minute, second, weekday, out result);
    }

    // Sunday, 06-Nov-94 08:49:37 GMT
    private static bool TryRfc850(ReadOnlySpan<char> s, DateTimeOffset now, out DateTimeOffset result)
    {
        result = default;
        var comma = s.IndexOf(',');
        if (comma < 0) return false;
        var weekday = IndexOf(LongDayNames, s[..comma]);
        var r = s[comma..];
        if (weekday < 0 || r.Length != 24 || r[1] != ' ' || r[4] != '-' || r[8] != '-' || r[11] != ' ' || r[20] != ' ') return false;
        if (!r[21..].SequenceEqual("GMT")) return false;
        var day = Digits(r[2..4]);
        var month = IndexOf(MonthNames, r[5..8]) + 1;
        var yy = Digits(r[9..11]);
        if (yy < 0 || month < 1 || day < 1 || !TryTime(r[12..20], out var hour, out var minute, out var second)) return false;

        // The latest year ending in yy that does not put the timestamp more than 50 years after now.
        var limit = now.UtcDateTime;
        limit = limit.Year <= 9949 ? limit.AddYears(50) : DateTime.MaxValue;
        var year = limit.Year / 100 * 100 + yy;
        if (year > limit.Year || (year == limit.Year && After(month, day, hour, minute, second, limit))) year -= 100;
        return TryBuild(year, month, day, hour, minute, second, weekday, out result);
    }

    private static bool After(int month, int day, int hour, int minute, int second, DateTime t)
    {
        if (month != t.Month) return month > t.Month;
        if (day != t.Day) return day > t.Day;
        if (hour != t.Hour) return hour > t.Hour;
        if (minute != t.Minute) return minute > t.Minute;
        return second > t.Second;
    }

    // HH:MM:SS, 00:00:00 to 23:59:60.
    private static bool TryTime(ReadOnlySpan<char> s, out int hour, out int minute, out int second)
    {
        hour = minute = second = -1;
        if (s[2] != ':' || s[5] != ':') return false;
        hour = Digits(s[..2]);
        minute = Digits(s[3..5]);
        second = Digits(s[6..8]);
        if (hour is < 0 or > 23 || minute is < 0 or > 59 || second < 0) return false;
        if (second == 60 && hour == 23 && minute == 59) second = 59;
        return second <= 59;
    }

    private static bool TryBuild(int year, int month, int day, int hour, int minute, int second, int weekday, out DateTimeOffset result)
    {
        result = default;
        if (weekday < 0 || year is < 1 or > 9999 || month < 1 || day < 1 || day > DateTime.DaysInMonth(year, month)) return false;
        var date = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Utc);
        if ((int)date.DayOfWeek != weekday) return false;
        result = new DateTimeOffset(date);
        return true;
    }

    /// <summary>The value of ASCII digits, or -1 when any character is not one.</summary>
    private static int Digits(ReadOnlySpan<char> s)
    {
        var v = 0;
        foreach (var c in s)
        {
            if (!char.IsAsciiDigit(c)) return -1;
            v = v * 10 + (c - '0');
        }

        return v;
    }

    private static int IndexOf(string[] names, ReadOnlySpan<char> s)
    {
        for (var i = 0; i < names.Length; i++)
        {
            if (s.SequenceEqual(names[i])) return i;
        }

        return -1;
    }
}
