using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Primitives;

namespace EdgeCache.Proxy.Internal;

/// <summary>
/// The <c>103 Early Hints</c> (RFC 8297) an edge sends, per URL: the <c>Link</c> members with
/// <c>rel=preload</c> or <c>rel=preconnect</c> of the last final response it sent for that URL, as
/// Cloudflare's Early Hints do. Remembered from the full path (<see cref="Remember"/>), sent by the fast
/// path's connection middleware before it hands a request to Kestrel (<see cref="TryGet"/>): ASP.NET Core
/// has no API for a 1xx response (dotnet/aspnetcore#27851), but before the hand-off the connection is
/// still the middleware's to write to.
/// </summary>
internal sealed class EarlyHints(int maxUrls)
{
    private readonly ConcurrentDictionary<string, byte[]> _byKey = new(StringComparer.Ordinal);
    private int _count;

    /// <summary>True when no URL has hints: the fast path then looks no further.</summary>
    public bool IsEmpty => Volatile.Read(ref _count) == 0;

    /// <summary>The whole 103 response (status line, <c>Link</c>, empty line) for <paramref name="key"/>.</summary>
    public bool TryGet(string key, out byte[] response) => _byKey.TryGetValue(key, out response!);

    /// <summary>Remembers the hints of a final response for <paramref name="key"/>, or forgets them when it has none.</summary>
    public void Remember(string key, StringValues link)
    {
        var hints = Select(link);
        if (hints is null)
        {
            if (_byKey.TryRemove(key, out _)) Interlocked.Decrement(ref _count);
            return;
        }

        var response = Encoding.ASCII.GetBytes("HTTP/1.1 103 Early Hints\r\nLink: " + hints + "\r\n\r\n");
        if (_byKey.TryGetValue(key, out var old))
        {
            if (!old.AsSpan().SequenceEqual(response)) _byKey.TryUpdate(key, response, old);
            return;
        }

        if (Volatile.Read(ref _count) >= maxUrls) return;
        if (_byKey.TryAdd(key, response)) Interlocked.Increment(ref _count);
    }

    /// <summary>
    /// The members of <paramref name="link"/> (RFC 8288 §3: <c>&lt;uri&gt;; param; …</c>, comma-separated, over any
    /// number of field lines) whose <c>rel</c> names <c>preload</c> or <c>preconnect</c>, joined with <c>", "</c>;
    /// null when there are none, or when a member cannot be read exactly (nothing is guessed) or carries a
    /// control character (it would end the field).
    /// </summary>
    internal static string? Select(StringValues link)
    {
        StringBuilder? kept = null;
        foreach (var line in link)
        {
            if (string.IsNullOrEmpty(line)) continue;
            foreach (var c in line)
            {
                if ((c < 0x20 && c != '\t') || c >= 0x7f) return null;
            }

            var i = 0;
            while (i < line.Length)
            {
                while (i < line.Length && (line[i] is ' ' or '\t' or ',')) i++;
                if (i == line.Length) break;
                if (line[i] != '<') return null;
                var close = line.IndexOf('>', i);
                if (close < 0) return null;

                // The member runs to the next comma outside a quoted string.
                var end = close + 1;
                var quoted = false;
                for (; end < line.Length; end++)
                {
                    var c = line[end];
                    if (quoted && c == '\\') end++;
                    else if (c == '"') quoted = !quoted;
                    else if (c == ',' && !quoted) break;
                }

                if (quoted) return null;
                var member = line[i..end].TrimEnd(' ', '\t');
                if (Hints(member[(close + 1 - i)..]))
                {
                    kept = kept is null ? new StringBuilder(member) : kept.Append(", ").Append(member);
                }

                i = end;
            }
        }

        return kept?.ToString();
    }

    /// <summary>True when a member's parameters have a <c>rel</c> whose space-separated types include preload or preconnect.</summary>
    private static bool Hints(string parameters)
    {
        foreach (var raw in parameters.Split(';'))
        {
            var p = raw.Trim(' ', '\t');
            var eq = p.IndexOf('=');
            if (eq < 0 || !p[..eq].TrimEnd(' ', '\t').Equals("rel", StringComparison.OrdinalIgnoreCase)) continue;
            var value = p[(eq + 1)..].Trim(' ', '\t').Trim('"');
            foreach (var type in value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (type.Equals("preload", StringComparison.OrdinalIgnoreCase) || type.Equals("preconnect", StringComparison.OrdinalIgnoreCase)) return true;
            }

            return false;
        }

        return false;
    }
}
