using System.Net;
using System.Net.Http.Headers;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using EdgeCache.Engine;
using Microsoft.Extensions.Primitives;

namespace EdgeCache.Proxy.Internal;

/// <summary>
/// The forwarding fields of a request sent upstream. The edge is the trust boundary: whatever a
/// client sent in any forwarding field (<see cref="HeaderRules.ForwardingFields"/>) is removed, and
/// the node sets its own from what it knows (the client's address, the scheme and Host it used), in
/// the host's <see cref="HostCachePolicy.Forwarding"/> format, the way YARP's X-Forwarded transforms
/// do with <c>Set</c>. A shield keeps an edge's fields only when the request carries one of the
/// shared <see cref="EdgeCacheOptions.TierSecrets"/>; the secret itself never goes further.
/// </summary>
internal static class Forwarding
{
    private const string XForwardedFor = "X-Forwarded-For";
    private const string XForwardedProto = "X-Forwarded-Proto";
    private const string XForwardedHost = "X-Forwarded-Host";
    private const string Forwarded = "Forwarded";

    /// <summary>The fields a trusted edge sets, which a shield passes on unchanged.</summary>
    private static readonly string[] SetByEdges = [XForwardedFor, XForwardedProto, XForwardedHost, Forwarded];

    public static void Apply(HttpRequestHeaders h, UpstreamRequest request, EdgeCacheOptions options, HostPolicies policies, bool toShields)
    {
        var incoming = request.Headers;
        var trusted = options.Role == NodeRole.Shield && IsTrustedTier(incoming[HeaderRules.TierAuth], options.TierSecrets);
        foreach (var field in incoming)
        {
            if (HeaderRules.IsForwardingField(field.Key)) h.Remove(field.Key);
        }

        h.Remove(HeaderRules.TierAuth);

        // A warming request goes on to the shields only as the purge API sent it, with a tier secret; a
        // client's warming fields, and any that would reach an origin, are removed.
        if (!toShields || (incoming.ContainsKey(HeaderRules.Warm) && Warming.Read(incoming, options, out _) == WarmMode.None))
        {
            h.Remove(HeaderRules.Warm);
            h.Remove(HeaderRules.CopyId);
        }
        else if (!incoming.ContainsKey(HeaderRules.Warm))
        {
            h.Remove(HeaderRules.CopyId);
        }

        if (toShields && options.TierSecrets is [var secret, ..]) h.TryAddWithoutValidation(HeaderRules.TierAuth, secret);

        if (trusted)
        {
            // A trusted edge already set these from what its client did: they go to the origin as they are.
            foreach (var name in SetByEdges)
            {
                var value = incoming[name];
                if (!StringValues.IsNullOrEmpty(value)) h.TryAddWithoutValidation(name, (IEnumerable<string?>)value);
            }

            return;
        }

        var host = request.Host.Value ?? "";
        var policy = policies.For(host);
        if (policy.Forwarding == ForwardedFormat.None) return;

        // The client's address, after the addresses a trusted proxy in front of this node reported.
        var client = request.RemoteIp is { IsIPv4MappedToIPv6: true } mapped ? mapped.MapToIPv4() : request.RemoteIp;
        var chain = new List<string>(2);
        if (policy.TrustsProxy(client))
        {
            foreach (var line in incoming[XForwardedFor])
            {
                if (line is null) continue;
                foreach (var item in line.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    if (IPAddress.TryParse(item, out _)) chain.Add(item);
                }
            }
        }

        if (client is not null) chain.Add(client.ToString());
        var scheme = request.Scheme;
        if (policy.Forwarding is ForwardedFormat.XForwarded or ForwardedFormat.Both)
        {
            if (chain.Count > 0) h.TryAddWithoutValidation(XForwardedFor, string.Join(", ", chain));
            h.TryAddWithoutValidation(XForwardedProto, scheme);
            if (host.Length > 0) h.TryAddWithoutValidation(XForwardedHost, host);
        }

        if (policy.Forwarding is ForwardedFormat.Forwarded or ForwardedFormat.Both)
        {
            h.TryAddWithoutValidation(Forwarded, FormatForwarded(chain, scheme, host));
        }
    }

    /// <summary>RFC 7239 §4: one element per address, the last (this node's) with proto and host.</summary>
    internal static string FormatForwarded(List<string> chain, string scheme, string host)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < chain.Count; i++)
        {
            if (i > 0) sb.Append(", ");
            var address = chain[i];
            // §6: an IPv6 address is bracketed and, as it contains ':', quoted.
            sb.Append("for=").Append(address.Contains(':') ? "\"[" + address + "]\"" : address);
        }

        if (sb.Length > 0) sb.Append(';');
        sb.Append("proto=").Append(scheme);
        if (host.Length > 0)
        {
            sb.Append(";host=");
            // A host with a port is not a token (':'), so it is a quoted-string.
            if (IsToken(host)) sb.Append(host);
            else sb.Append('"').Append(host.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)).Append('"');
        }

        return sb.ToString();
    }

    private static bool IsToken(string s)
    {
        foreach (var c in s)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c))) return false;
        }

        return s.Length > 0;
    }

    /// <summary>True when the request carries one of the configured tier secrets (compared in fixed time).</summary>
    internal static bool IsTrustedTier(StringValues presented, string[] secrets)
    {
        if (presented.Count != 1 || presented[0] is not { Length: > 0 } value || secrets.Length == 0) return false;
        var given = MemoryMarshal.AsBytes(value.AsSpan());
        var match = false;
        foreach (var secret in secrets)
        {
            match |= CryptographicOperations.FixedTimeEquals(given, MemoryMarshal.AsBytes(secret.AsSpan()));
        }

        return match;
    }
}
