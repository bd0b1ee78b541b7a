using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace EdgeCache.FunctionalTests.Infrastructure;

/// <summary>
/// One TLS connection to a node, as a client sets it up: a chosen server name (SNI, or none), TLS versions
/// and ALPN protocols; it keeps the certificate the server sent. HTTP/1.1 requests are written raw, so a
/// test can send any Host over the connection (a client reusing it for another host).
/// </summary>
public sealed class TlsClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly SslStream _ssl;
    private readonly byte[] _buffer = new byte[16 * 1024];
    private int _start;
    private int _end;

    private TlsClient(TcpClient tcp, SslStream ssl, X509Certificate2 certificate)
    {
        _tcp = tcp;
        _ssl = ssl;
        Certificate = certificate;
    }

    /// <summary>The certificate the server presented.</summary>
    public X509Certificate2 Certificate { get; }

    public SslApplicationProtocol Alpn => _ssl.NegotiatedApplicationProtocol;

    public SslProtocols Protocol => _ssl.SslProtocol;

    /// <param name="serverName">The SNI name; null sends none.</param>
    public static async Task<TlsClient> ConnectAsync(IPEndPoint endpoint, string? serverName, SslProtocols protocols = SslProtocols.None, SslApplicationProtocol[]? alpn = null)
    {
        var tcp = new TcpClient { NoDelay = true };
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await tcp.ConnectAsync(endpoint, timeout.Token);
            var ssl = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
            X509Certificate2? seen = null;
            await ssl.AuthenticateAsClientAsync(
                new SslClientAuthenticationOptions
                {
                    // An empty target host sends no SNI.
                    TargetHost = serverName ?? "",
                    EnabledSslProtocols = protocols,
                    ApplicationProtocols = [.. alpn ?? [SslApplicationProtocol.Http11]],
                    CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                    // The test checks the certificate itself (TestCertificates.Trusts, thumbprints).
                    RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                    {
                        seen = certificate is null ? null : X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
                        return seen is not null;
                    },
                },
                timeout.Token);
            return new TlsClient(tcp, ssl, seen!);
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    /// <summary>Sends <c>GET path</c> with <paramref name="host"/> as Host and reads the response: status, headers and body.</summary>
    public async Task<(int Status, Dictionary<string, string> Headers, string Body)> GetAsync(string host, string path)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _ssl.WriteAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n"), timeout.Token);
        var statusLine = await ReadLineAsync(timeout.Token);
        var status = int.Parse(statusLine.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        for (var line = await ReadLineAsync(timeout.Token); line.Length > 0; line = await ReadLineAsync(timeout.Token))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }

        var body = new MemoryStream();
        if (headers.TryGetValue("Content-Length", out var length))
        {
            await ReadExactAsync(body, int.Parse(length, System.Globalization.CultureInfo.InvariantCulture), timeout.Token);
        }
        else if (headers.TryGetValue("Transfer-Encoding", out var te) && te.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            while (true)
            {
                var size = Convert.ToInt32((await ReadLineAsync(timeout.Token)).Split(';')[0], 16);
                if (size == 0)
                {
                    while ((await ReadLineAsync(timeout.Token)).Length > 0)
                    {
                    }

                    break;
                }

                await ReadExactAsync(body, size, timeout.Token);
                await ReadLineAsync(timeout.Token);
            }
        }

        return (status, headers, Encoding.UTF8.GetString(body.ToArray()));
    }

    private async Task<bool> FillAsync(CancellationToken cancel)
    {
        if (_start > 0 && _start == _end) _start = _end = 0;
        if (_end == _buffer.Length)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        var n = await _ssl.ReadAsync(_buffer.AsMemory(_end), cancel);
        _end += n;
        return n > 0;
    }

    private async Task<string> ReadLineAsync(CancellationToken cancel)
    {
        while (true)
        {
            var i = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (i >= 0)
            {
                var line = Encoding.ASCII.GetString(_buffer, _start, i - _start).TrimEnd('\r');
                _start = i + 1;
                return line;
            }

            if (!await FillAsync(cancel)) throw new IOException("The connection closed in the middle of a response.");
        }
    }

    private async Task ReadExactAsync(MemoryStream into, int count, CancellationToken cancel)
    {
        while (count > 0)
        {
            if (_start == _end && !await FillAsync(cancel)) throw new IOException("The connection closed in the middle of a body.");
            var n = Math.Min(count, _end - _start);
            into.Write(_buffer, _start, n);
            _start += n;
            count -= n;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _ssl.DisposeAsync();
        _tcp.Dispose();
        Certificate.Dispose();
    }
}
