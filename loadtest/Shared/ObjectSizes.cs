using System.Globalization;

namespace EdgeCache.LoadTesting;

/// <summary>Object sizes in test-origin paths: "1024", "100k", "1m". Shared by the sample and load origins.</summary>
internal static class ObjectSizes
{
    public static bool TryParse(string s, out long bytes)
    {
        var mult = 1L;
        if (s.EndsWith('k')) { mult = 1024; s = s[..^1]; }
        else if (s.EndsWith('m')) { mult = 1024 * 1024; s = s[..^1]; }
        var ok = long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out bytes);
        bytes *= mult;
        return ok && bytes >= 0;
    }
}
