using System.Collections.Concurrent;
using Microsoft.Extensions.Primitives;

namespace EdgeCache.Engine;

/// <summary>
/// Proactive negotiation of a content coding (RFC 9110 §12.5.3, §12.4.2) for one host's preference
/// order: a client's Accept-Encoding becomes the one coding it is served, <c>br</c>, <c>zstd</c>,
/// <c>gzip</c> or <c>identity</c>. That coding is the variant's key (so a URL has at most one variant
/// per coding, never one per browser's header) and the Accept-Encoding the tier sends upstream.
/// </summary>
/// <remarks>
/// The coding with the highest q-value wins; a tie goes to the host's order. A coding not named is
/// acceptable only through <c>*</c>. <c>identity</c> is acceptable unless refused (<c>identity;q=0</c>,
/// or <c>*;q=0</c> without naming it) and, unless named, ranks below every coding the client accepts.
/// When the client refuses everything offered, identity is still the answer: RFC 9110 §12.5.3 lets a
/// server disregard the field rather than answer 406, and every CDN does. A request without the field
/// gets identity (RFC 9110 allows any coding, but clients that send none are the ones that cannot
/// decode), as does an empty field (§12.5.3: no coding wanted). A member whose q-value is not a valid
/// qvalue (§12.4.2) is ignored.
/// </remarks>
public sealed class AcceptEncodingNegotiation
{
    public const string Identity = "identity";

    private const int FormsLimit = 1024;

    private readonly string[] _codings;
    private readonly ConcurrentDictionary<string, string> _forms = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _formsBySpan;

    /// <param name="codings">The codings offered, most preferred first (canonical names).</param>
    public AcceptEncodingNegotiation(string[] codings)
    {
        _codings = codings;
        _formsBySpan = _forms.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The codings offered, most preferred first.</summary>
    public IReadOnlyList<string> Codings => _codings;

    /// <summary>The coding for a request's Accept-Encoding (every line of it).</summary>
    public string Negotiate(StringValues acceptEncoding)
    {
        if (acceptEncoding.Count == 0) return Identity;
        if (acceptEncoding.Count == 1) return Negotiate(acceptEncoding[0].AsSpan());
        return NegotiateCore(string.Join(",", acceptEncoding.ToArray()));
    }

    /// <summary>The coding for one Accept-Encoding field line; allocation-free once the value has been seen.</summary>
    public string Negotiate(ReadOnlySpan<char> acceptEncoding)
    {
        if (acceptEncoding.IsEmpty) return Identity;
        if (_formsBySpan.TryGetValue(acceptEncoding, out var known)) return known;
        var value = acceptEncoding.ToString();
        var result = NegotiateCore(value);
        if (_forms.Count < FormsLimit) _forms.TryAdd(value, result);
        return result;
    }

    private string NegotiateCore(string value)
    {
        // q-values in thousandths; -1 = not named.
        Span<int> q = stackalloc int[_codings.Length];
        q.Fill(-1);
        var star = -1;
        var identity = -1;
        foreach (var range in value.AsSpan().Split(','))
        {
            var member = value.AsSpan()[range].Trim();
            if (member.IsEmpty) continue;
            var weight = 1000;
            var semi = member.IndexOf(';');
            var name = (semi < 0 ? member : member[..semi]).Trim();
            if (semi >= 0 && !TryParseWeight(member[(semi + 1)..], out weight)) continue;
            if (name.Equals("*", StringComparison.Ordinal))
            {
                star = Math.Max(star, weight);
            }
            else if (name.Equals(Identity, StringComparison.OrdinalIgnoreCase))
            {
                identity = Math.Max(identity, weight);
            }
            else
            {
                var canonical = name.Equals("x-gzip", StringComparison.OrdinalIgnoreCase) ? "gzip" : null;
                for (var i = 0; i < _codings.Length; i++)
                {
                    if (canonical is not null ? canonical == _codings[i] : name.Equals(_codings[i], StringComparison.OrdinalIgnoreCase)) q[i] = Math.Max(q[i], weight);
                }
            }
        }

        string? best = null;
        var bestQ = 0;
        for (var i = 0; i < _codings.Length; i++)
        {
            var w = q[i] >= 0 ? q[i] : Math.Max(star, 0);
            if (w > bestQ)
            {
                best = _codings[i];
                bestQ = w;
            }
        }

        // identity, when named, competes on its q-value (and loses ties); unnamed, it never beats a coding.
        if (best is not null && identity > bestQ) return Identity;
        return best ?? Identity;
    }

    /// <summary>Parses the parameters after a member's <c>;</c>: <c>q=</c> with a qvalue (RFC 9110 §12.4.2),
    /// in thousandths. Other parameters are ignored; a malformed q makes the member invalid.</summary>
    private static bool TryParseWeight(ReadOnlySpan<char> parameters, out int weight)
    {
        weight = 1000;
        foreach (var range in parameters.Split(';'))
        {
            var p = parameters[range].Trim();
            if (p.Length < 2 || (p[0] | 0x20) != 'q' || p[1] != '=') continue;
            var v = p[2..];
            if (v.IsEmpty || v.Length > 5 || v[0] is not ('0' or '1')) return false;
            var whole = v[0] - '0';
            var frac = 0;
            var digits = 0;
            if (v.Length > 1)
            {
                if (v[1] != '.') return false;
                foreach (var c in v[2..])
                {
                    if (c is < '0' or > '9') return false;
                    frac = frac * 10 + (c - '0');
                    digits++;
                }
            }

            for (; digits < 3; digits++) frac *= 10;
            if (whole == 1 && frac != 0) return false;
            weight = whole * 1000 + frac;
        }

        return true;
    }
}
