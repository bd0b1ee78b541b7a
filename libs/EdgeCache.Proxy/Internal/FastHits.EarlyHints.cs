using System.Buffers;
using System.Net.Security;
using Microsoft.AspNetCore.Connections;

namespace EdgeCache.Proxy.Internal;

internal sealed partial class FastHits
{
    /// <summary>
    /// The <c>103 Early Hints</c> to send before Kestrel takes this request, or null: a <c>GET</c> over
    /// HTTP/1.1 (never 1.0, RFC 9110 §15.2) for a routed host with <c>EarlyHints</c> whose URL has hints
    /// remembered (<see cref="EarlyHints"/>). Only the request line and Host are read: whatever else the
    /// request holds is Kestrel's to judge, and a request Kestrel then refuses has had a harmless hint.
    /// </summary>
    internal static byte[]? EarlyHintsFor(Dependencies deps, ConnectionContext connection, ReadOnlySequence<byte> buffer, bool tls)
    {
        var engine = deps.Engine;
        if (engine.EarlyHintsIfAny is not { IsEmpty: false } hints) return null;
        var first = buffer.FirstSpan;
        var end = first.IndexOf("\r\n\r\n"u8);
        if (end < 0 || end > MaxHead) return null;
        var head = first[..(end + 4)];
        var line = head[..head.IndexOf("\r\n"u8)];
        if (!line.StartsWith("GET /"u8) || !line.EndsWith(" HTTP/1.1"u8)) return null;
        var target = line[4..^9];
        if (!RequestHead.IsOriginForm(target)) return null;

        if (RequestHead.FindField(head, "host"u8, out var host) != 1 || host.IsEmpty) return null;
        foreach (var b in host)
        {
            if (!(char.IsAsciiLetterOrDigit((char)b) || b is (byte)'.' or (byte)'-' or (byte)':' or (byte)'[' or (byte)']')) return null;
        }

        var parsed = (tls ? deps.TlsKeys : deps.Keys).Get(engine, host, target);
        if (!parsed.Policy.EarlyHints || !deps.Routes.Covers(parsed.HostName)) return null;
        if (tls && connection.Features.Get<TlsConnectionNames>() is { } names && !names.Covers(parsed.HostName)) return null;
        if (!hints.TryGet(parsed.Key, out var response)) return null;
        engine.CountEarlyHint();
        return response;
    }

    /// <summary>Sends <paramref name="hints"/> ahead of the response Kestrel will write; false when the connection failed.</summary>
    private static async ValueTask<bool> SendHintsAsync(System.Net.Sockets.Socket? socket, SslStream? ssl, byte[] hints)
    {
        try
        {
            if (ssl is not null) await ssl.WriteAsync(hints).ConfigureAwait(false);
            else await socket!.SendAsync(hints, System.Net.Sockets.SocketFlags.None).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
            return false;
        }
    }
}
