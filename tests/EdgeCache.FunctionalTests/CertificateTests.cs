using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using EdgeCache.FunctionalTests.Infrastructure;
using EdgeCache.Proxy;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EdgeCache.FunctionalTests;

/// <summary>Starts an edge with an https traffic endpoint in front of a test origin, with the settings a test gives.</summary>
internal static class CertificateNode
{
    public static async Task<WebApplication> StartAsync(Dictionary<string, string?> settings, RecordingLoggerProvider? log = null, NodeRole role = NodeRole.Edge)
    {
        var config = new Dictionary<string, string?>
        {
            ["EdgeCache:NodeId"] = "tls-node",
            ["EdgeCache:Listen:Traffic:0"] = "https://127.0.0.1:0",
            ["EdgeCache:Listen:Admin"] = "http://127.0.0.1:0",
            ["EdgeCache:Listen:CertificatePollInterval"] = "00:00:00.500",
            ["EdgeCache:ShutdownTimeout"] = "00:00:01",
            ["EdgeCache:Defaults:ConnectTimeout"] = "00:00:02",
        };
        foreach (var (k, v) in settings) config[k] = v;
        var app = EdgeCacheNode.Build(role, [], b =>
        {
            b.Configuration.Sources.Clear();
            b.Configuration.AddInMemoryCollection(config);
            b.Logging.ClearProviders();
            if (log is not null) b.Logging.AddProvider(log);
        });
        await app.StartAsync();
        return app;
    }

    public static IPEndPoint Traffic(this WebApplication node) => node.Services.GetRequiredService<NodeEndpoints>().Traffic[0].IPEndPoint!;

    /// <summary>Routes every host in <paramref name="hosts"/> to <paramref name="origin"/>.</summary>
    public static void Route(Dictionary<string, string?> c, string[] hosts, Uri origin)
    {
        c["ReverseProxy:Routes:sites:ClusterId"] = "origin";
        c["ReverseProxy:Routes:sites:Match:Path"] = "{**catch-all}";
        for (var i = 0; i < hosts.Length; i++) c[$"ReverseProxy:Routes:sites:Match:Hosts:{i}"] = hosts[i];
        c["ReverseProxy:Clusters:origin:Destinations:o:Address"] = origin.ToString();
    }
}

/// <summary>
/// Certificates per host, chosen by SNI: three hosts, one with an exact-name certificate (PEM files,
/// the default), one under a wildcard certificate (PFX), one with none. Real certificates signed by a
/// test CA, a real Kestrel edge on loopback, raw TLS clients that choose their server name.
/// </summary>
public sealed class CertificateSelectionTests : IAsyncLifetime, IDisposable
{
    private const string Shop = "shop.example.test";
    private const string WildcardName = "*.img.example.test";
    private const string ImgA = "a.img.example.test";
    private const string ImgB = "b.img.example.test";
    private const string NoCertificate = "nocert.example.test";

    private readonly TestCertificates _ca = new();
    private readonly RecordingLoggerProvider _log = new();
    private TestOrigin _origin = null!;
    private WebApplication _edge = null!;
    private X509Certificate2 _shop = null!;
    private X509Certificate2 _wildcard = null!;

    public async Task InitializeAsync()
    {
        _origin = await TestOrigin.StartAsync(TimeProvider.System);
        _origin.MapStatic("/page", "from the origin", ("Cache-Control", "max-age=60"));
        _shop = _ca.Issue([Shop]);
        _wildcard = _ca.Issue([WildcardName]);
        var (cert, key) = _ca.WritePem(_shop, "shop");
        var settings = new Dictionary<string, string?>
        {
            ["EdgeCache:Listen:Certificates:0:Path"] = cert,
            ["EdgeCache:Listen:Certificates:0:KeyPath"] = key,
            ["EdgeCache:Listen:Certificates:0:Default"] = "true",
            ["EdgeCache:Listen:Certificates:1:Path"] = _ca.WritePfx(_wildcard, "img", "pfx-password"),
            ["EdgeCache:Listen:Certificates:1:Password"] = "pfx-password",
        };
        CertificateNode.Route(settings, [Shop, ImgA, ImgB, NoCertificate], _origin.Uri);
        _edge = await CertificateNode.StartAsync(settings, _log);
    }

    [Theory]
    [InlineData(Shop, "shop")]
    [InlineData("SHOP.Example.TEST", "shop")]
    [InlineData(ImgA, "wildcard")]
    [InlineData(ImgB, "wildcard")]
    [InlineData("x.a.img.example.test", "shop")] // a wildcard covers one label only: the default
    [InlineData("img.example.test", "shop")] // nor the name it stands under
    [InlineData(NoCertificate, "shop")]
    [InlineData(null, "shop")] // no SNI: the default
    public async Task Each_server_name_gets_the_certificate_that_covers_it_and_others_the_default(string? serverName, string expected)
    {
        await using var tls = await TlsClient.ConnectAsync(_edge.Traffic(), serverName);
        Assert.True(_ca.Trusts(tls.Certificate));
        Assert.Equal((expected == "shop" ? _shop : _wildcard).Thumbprint, tls.Certificate.Thumbprint);
    }

    [Fact]
    public async Task Hosts_are_served_over_their_certificate_and_a_host_without_one_is_reported_and_refused()
    {
        foreach (var host in new[] { Shop, ImgA })
        {
            await using var tls = await TlsClient.ConnectAsync(_edge.Traffic(), host);
            var (status, _, body) = await tls.GetAsync(host, "/page");
            Assert.Equal(200, status);
            Assert.Equal("from the origin", body);
        }

        // A client that asks for the host without a certificate gets the default one, which does not cover it.
        await using (var tls = await TlsClient.ConnectAsync(_edge.Traffic(), NoCertificate))
        {
            var (status, _, body) = await tls.GetAsync(NoCertificate, "/page");
            Assert.Equal(421, status);
            Assert.Contains("certificate does not cover", body, StringComparison.Ordinal);
        }

        var warnings = _log.WithId(1403).ToList();
        var warning = Assert.Single(warnings);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains(NoCertificate, warning.Message, StringComparison.Ordinal);

        var tlsStatus = (await _edge.StatusAsync())["tls"]!;
        Assert.Equal([NoCertificate], tlsStatus["uncoveredHosts"]!.AsArray().Select(h => h!.GetValue<string>()));
        var listed = tlsStatus["certificates"]!.AsArray();
        Assert.Equal(2, listed.Count);
        Assert.Equal(_shop.Thumbprint, listed[0]!["thumbprint"]!.GetValue<string>());
        Assert.Equal([Shop], listed[0]!["names"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.True(listed[0]!["isDefault"]!.GetValue<bool>());
        Assert.EndsWith("shop.crt.pem", listed[0]!["source"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal([WildcardName], listed[1]!["names"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal(_wildcard.NotAfter.ToUniversalTime(), listed[1]!["notAfter"]!.GetValue<DateTimeOffset>().UtcDateTime, TimeSpan.FromSeconds(1));

        // Never a password or a key on the status page.
        var page = (await _edge.StatusAsync()).ToJsonString();
        Assert.DoesNotContain("pfx-password", page, StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE KEY", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_reused_connection_for_a_host_its_certificate_does_not_cover_gets_421()
    {
        await using var tls = await TlsClient.ConnectAsync(_edge.Traffic(), ImgA);
        Assert.Equal(200, (await tls.GetAsync(ImgA, "/page")).Status);

        // The wildcard certificate covers the next image host too: the connection may be reused for it.
        Assert.Equal(200, (await tls.GetAsync(ImgB + ":443", "/page")).Status);

        // The shop's page stored and hit over the shop's own connection: the fast path holds it.
        await using (var shop = await TlsClient.ConnectAsync(_edge.Traffic(), Shop))
        {
            Assert.Equal(200, (await shop.GetAsync(Shop, "/page")).Status);
            Assert.Equal(200, (await shop.GetAsync(Shop, "/page")).Status);
        }

        var shopFetches = _origin.Requests("/page").Count(r => r.Headers["Host"] == Shop);

        // Not the shop: its certificate is another. 421, on the same connection, which stays usable,
        // though the page is stored (neither the fast path nor the full path serves it here).
        var (status, headers, body) = await tls.GetAsync(Shop, "/page");
        Assert.Equal(421, status);
        Assert.StartsWith("421 Misdirected Request", body, StringComparison.Ordinal);
        Assert.Equal("no-store", headers["Cache-Control"]);
        Assert.Equal(200, (await tls.GetAsync(ImgA, "/page")).Status);
        Assert.Equal(shopFetches, _origin.Requests("/page").Count(r => r.Headers["Host"] == Shop));
    }

    [Fact]
    public async Task Only_TLS_1_2_and_1_3_are_accepted_with_h2_and_http11_by_ALPN()
    {
#pragma warning disable SYSLIB0039, CA5397 // TLS 1.1 on purpose: it must be refused
        await Assert.ThrowsAnyAsync<Exception>(() => TlsClient.ConnectAsync(_edge.Traffic(), Shop, SslProtocols.Tls11));
#pragma warning restore SYSLIB0039, CA5397
        await using (var tls12 = await TlsClient.ConnectAsync(_edge.Traffic(), Shop, SslProtocols.Tls12))
        {
            Assert.Equal(SslProtocols.Tls12, tls12.Protocol);
            Assert.Equal(200, (await tls12.GetAsync(Shop, "/page")).Status);
        }

        await using (var tls13 = await TlsClient.ConnectAsync(_edge.Traffic(), Shop, SslProtocols.Tls13, [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11]))
        {
            Assert.Equal(SslProtocols.Tls13, tls13.Protocol);
            Assert.Equal(SslApplicationProtocol.Http2, tls13.Alpn);
        }

        await using var http11 = await TlsClient.ConnectAsync(_edge.Traffic(), Shop);
        Assert.Equal(SslApplicationProtocol.Http11, http11.Alpn);

        // HttpClient over HTTP/2, the way a browser would come.
        using var client = new HttpClient(new SocketsHttpHandler
        {
            UseProxy = false,
            ConnectCallback = async (_, cancel) =>
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                await socket.ConnectAsync(_edge.Traffic(), cancel);
                return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
            },
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, c, _, _) => _ca.Trusts(c) },
        })
        {
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        using var response = await client.GetAsync(new Uri($"https://{ImgA}/page"));
        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal("from the origin", await response.Content.ReadAsStringAsync());
    }

    /// <summary>openssl s_client, a real TLS client that says whether it resumed: one full handshake
    /// saving the session (a TLS 1.3 ticket comes after the handshake, so it reads an answer first),
    /// then a new connection offering it.</summary>
    [Theory]
    [InlineData("-tls1_2", "Reused, TLSv1.2")]
    [InlineData("-tls1_3", "Reused, TLSv1.3")]
    public async Task A_client_resumes_its_session_on_a_new_connection(string version, string reused)
    {
        var session = Path.Combine(Path.GetTempPath(), "edgecache-session-" + Guid.NewGuid().ToString("N"));
        try
        {
            var first = await SClientAsync(version, "-sess_out", session);
            Assert.Contains("New, TLSv1.", first, StringComparison.Ordinal);
            Assert.Contains("from the origin", first, StringComparison.Ordinal);
            var second = await SClientAsync(version, "-sess_in", session);
            Assert.Contains(reused, second, StringComparison.Ordinal);
            Assert.Contains("from the origin", second, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(session);
        }

        async Task<string> SClientAsync(string protocol, string sessionFlag, string sessionFile)
        {
            var endpoint = _edge.Traffic();
            var start = new System.Diagnostics.ProcessStartInfo("openssl")
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (var a in new[] { "s_client", "-connect", $"127.0.0.1:{endpoint.Port}", "-servername", Shop, protocol, sessionFlag, sessionFile, "-ign_eof" }) start.ArgumentList.Add(a);
            using var process = System.Diagnostics.Process.Start(start)!;
            await process.StandardInput.WriteAsync($"GET /page HTTP/1.1\r\nHost: {Shop}\r\nConnection: close\r\n\r\n");
            process.StandardInput.Close();
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await process.WaitForExitAsync(deadline.Token);
            return await output + await errors;
        }
    }

    [Fact]
    public async Task Each_certificate_s_remaining_lifetime_is_a_metric()
    {
        // What /metrics exports (every node in this process exports there, so only the series' form is checked)…
        using var http = new HttpClient();
        var metrics = await http.GetStringAsync(new Uri(_edge.AdminUri(), "/metrics"));
        Assert.Contains(metrics.Split('\n'), l => l.StartsWith("edgecache_tls_certificate_expiry_seconds{", StringComparison.Ordinal) && l.Contains($"edgecache_certificate=\"{Shop}\"", StringComparison.Ordinal));
        Assert.Contains($"edgecache_certificate=\"{WildcardName}\"", metrics, StringComparison.Ordinal);

        // …and this node's values, from its own meter.
        var values = new Dictionary<string, double>();
        var meters = _edge.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        using (var listener = new System.Diagnostics.Metrics.MeterListener())
        {
            listener.InstrumentPublished = (i, l) =>
            {
                if (ReferenceEquals(i.Meter.Scope, meters) && i.Name == "edgecache.tls.certificate.expiry") l.EnableMeasurementEvents(i);
            };
            listener.SetMeasurementEventCallback<double>((_, v, tags, _) =>
            {
                foreach (var t in tags)
                {
                    if (t.Key == "edgecache.certificate") values[(string)t.Value!] = v;
                }
            });
            listener.Start();
            listener.RecordObservableInstruments();
        }

        Assert.Equal([Shop, WildcardName], values.Keys.Order(StringComparer.Ordinal).Reverse());
        var expected = (_shop.NotAfter.ToUniversalTime() - DateTime.UtcNow).TotalSeconds;
        Assert.InRange(values[Shop], expected - 60, expected + 60);
    }

    public async Task DisposeAsync()
    {
        await _edge.StopAsync();
        await _edge.DisposeAsync();
        await _origin.DisposeAsync();
        _shop.Dispose();
        _wildcard.Dispose();
    }

    public void Dispose()
    {
        _ca.Dispose();
        _log.Dispose();
    }
}

/// <summary>Without a default certificate, or with unknown names refused, a handshake the node has no certificate for is refused.</summary>
public sealed class CertificateRefusalTests : IAsyncLifetime, IDisposable
{
    private readonly TestCertificates _ca = new();
    private TestOrigin _origin = null!;

    public async Task InitializeAsync() => _origin = await TestOrigin.StartAsync(TimeProvider.System);

    private async Task<WebApplication> StartAsync(X509Certificate2 certificate, bool isDefault, UnknownSniMode unknown)
    {
        var (cert, key) = _ca.WritePem(certificate, "only-" + Guid.NewGuid().ToString("N")[..6]);
        var settings = new Dictionary<string, string?>
        {
            ["EdgeCache:Listen:Certificates:0:Path"] = cert,
            ["EdgeCache:Listen:Certificates:0:KeyPath"] = key,
            ["EdgeCache:Listen:Certificates:0:Default"] = isDefault ? "true" : "false",
            ["EdgeCache:Listen:UnknownSni"] = unknown.ToString(),
        };
        CertificateNode.Route(settings, ["a.img.example.test"], _origin.Uri);
        return await CertificateNode.StartAsync(settings);
    }

    [Fact]
    public async Task Without_a_default_clients_without_a_server_name_or_with_an_unknown_one_are_refused()
    {
        using var wildcard = _ca.Issue(["*.img.example.test"]);
        await using var edge = await StartAsync(wildcard, isDefault: false, UnknownSniMode.Default);
        await using (var ok = await TlsClient.ConnectAsync(edge.Traffic(), "a.img.example.test"))
        {
            Assert.Equal(wildcard.Thumbprint, ok.Certificate.Thumbprint);
        }

        await Assert.ThrowsAnyAsync<Exception>(() => TlsClient.ConnectAsync(edge.Traffic(), null));
        await Assert.ThrowsAnyAsync<Exception>(() => TlsClient.ConnectAsync(edge.Traffic(), "shop.example.test"));
        Assert.Equal(2, await edge.StatusValueAsync<long>("tls", "refusedHandshakes"));
        await edge.StopAsync();
    }

    [Fact]
    public async Task With_unknown_names_refused_the_default_serves_only_clients_without_a_server_name()
    {
        using var shop = _ca.Issue(["shop.example.test"]);
        await using var edge = await StartAsync(shop, isDefault: true, UnknownSniMode.Refuse);
        await using (var noSni = await TlsClient.ConnectAsync(edge.Traffic(), null))
        {
            Assert.Equal(shop.Thumbprint, noSni.Certificate.Thumbprint);
        }

        await Assert.ThrowsAnyAsync<Exception>(() => TlsClient.ConnectAsync(edge.Traffic(), "other.example.test"));
        await edge.StopAsync();
    }

    public async Task DisposeAsync() => await _origin.DisposeAsync();

    public void Dispose() => _ca.Dispose();
}

/// <summary>
/// Certificates reload when their files change, as a renewal tool rewrites them: new connections get
/// the new certificate, connections in flight keep theirs, no request fails; changed files that do not
/// make a usable certificate are refused, logged, and the certificate in force stays.
/// </summary>
public sealed class CertificateReloadTests : IAsyncLifetime, IDisposable
{
    private const string Shop = "shop.example.test";
    private readonly TestCertificates _ca = new();
    private readonly RecordingLoggerProvider _log = new();
    private TestOrigin _origin = null!;
    private WebApplication _edge = null!;
    private X509Certificate2 _first = null!;
    private string _cert = null!;
    private string _key = null!;

    public async Task InitializeAsync()
    {
        _origin = await TestOrigin.StartAsync(TimeProvider.System);
        _origin.MapStatic("/page", "from the origin", ("Cache-Control", "max-age=60"));
        _first = _ca.Issue([Shop]);
        (_cert, _key) = _ca.WritePem(_first, "shop");
        var settings = new Dictionary<string, string?>
        {
            ["EdgeCache:Listen:Certificates:0:Path"] = _cert,
            ["EdgeCache:Listen:Certificates:0:KeyPath"] = _key,
            ["EdgeCache:Listen:Certificates:0:Default"] = "true",
        };
        CertificateNode.Route(settings, [Shop], _origin.Uri);
        _edge = await CertificateNode.StartAsync(settings, _log);
    }

    private async Task<string> ServedThumbprintAsync()
    {
        await using var tls = await TlsClient.ConnectAsync(_edge.Traffic(), Shop);
        Assert.Equal(200, (await tls.GetAsync(Shop, "/page")).Status);
        return tls.Certificate.Thumbprint;
    }

    [Fact]
    public async Task A_renewed_certificate_reaches_new_connections_while_a_reader_never_sees_a_failure()
    {
        await using var inFlight = await TlsClient.ConnectAsync(_edge.Traffic(), Shop);
        Assert.Equal(200, (await inFlight.GetAsync(Shop, "/page")).Status);

        using var renewed = _ca.Issue([Shop], TimeSpan.FromDays(180));
        var seen = new List<string>();
        var failures = new List<string>();
        using var stop = new CancellationTokenSource();
        var reader = Task.Run(async () =>
        {
            // A new connection per request: each one's handshake picks from the certificates in force.
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var thumbprint = await ServedThumbprintAsync();
                    lock (seen) seen.Add(thumbprint);
                }
                catch (Exception ex)
                {
                    lock (failures) failures.Add(ex.GetType().Name + ": " + ex.Message);
                }
            }
        });

        await Topology.WaitUntilAsync(() => { lock (seen) return seen.Count >= 3; }, TimeSpan.FromSeconds(10), "the reader runs");
        TestCertificates.WritePem(renewed, _cert, _key);
        await Topology.WaitUntilAsync(() => { lock (seen) return seen.Count(t => t == renewed.Thumbprint) >= 3; }, TimeSpan.FromSeconds(20), "new connections get the renewed certificate");
        await stop.CancelAsync();
        await reader;

        Assert.Empty(failures);
        var firstNew = seen.IndexOf(renewed.Thumbprint);
        Assert.True(firstNew > 0);
        Assert.All(seen.Take(firstNew), t => Assert.Equal(_first.Thumbprint, t));
        Assert.All(seen.Skip(firstNew), t => Assert.Equal(renewed.Thumbprint, t));

        // The connection opened before the renewal keeps its certificate and keeps working.
        Assert.Equal(_first.Thumbprint, inFlight.Certificate.Thumbprint);
        Assert.Equal(200, (await inFlight.GetAsync(Shop, "/page")).Status);

        Assert.True(await _edge.StatusValueAsync<int>("tls", "reloads") >= 1);
        var listed = (await _edge.StatusAsync())["tls"]!["certificates"]![0]!;
        Assert.Equal(renewed.Thumbprint, listed["thumbprint"]!.GetValue<string>());
        Assert.Contains(_log.WithId(1401), e => e.Message.Contains(renewed.Thumbprint, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_broken_renewal_is_refused_and_logged_and_the_certificate_in_force_stays()
    {
        Assert.Equal(_first.Thumbprint, await ServedThumbprintAsync());
        using var other = _ca.Issue([Shop]);
        using var expired = _ca.Issue([Shop], TimeSpan.FromDays(1), notBefore: DateTimeOffset.UtcNow.AddDays(-10));
        var brokenWrites = new (string What, Action Write, string Reason)[]
        {
            ("garbage", () => TestCertificates.ReplaceFile(_cert, "this is not a certificate\n"), "is neither a PEM file nor a PFX file"),
            // A new certificate whose key has not been written: the old key does not match it.
            ("mismatched key", () => TestCertificates.ReplaceFile(_cert, other.ExportCertificatePem()), "could not be used with the certificate"),
            ("expired", () => TestCertificates.WritePem(expired, _cert, _key), "expired on"),
        };

        foreach (var (what, write, reason) in brokenWrites)
        {
            write();
            await Topology.WaitUntilAsync(
                async () => (await _edge.StatusAsync())["tls"]!["certificates"]![0]!["lastRefusal"]?.GetValue<string>() is { } why && why.Contains(reason, StringComparison.Ordinal),
                $"the {what} renewal is refused");
            Assert.Equal(_first.Thumbprint, await ServedThumbprintAsync());
            var slot = (await _edge.StatusAsync())["tls"]!["certificates"]![0]!;
            Assert.Equal(_first.Thumbprint, slot["thumbprint"]!.GetValue<string>());
            Assert.StartsWith("EdgeCache:Listen:Certificates:0", slot["lastRefusal"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Contains(_log.WithId(1402), e => e.Level == LogLevel.Error && e.Message.Contains(reason, StringComparison.Ordinal));
        }

        Assert.True(await _edge.StatusValueAsync<int>("tls", "refused") >= brokenWrites.Length);
        Assert.Equal(0, await _edge.StatusValueAsync<int>("tls", "reloads"));

        // A good renewal after all that is picked up.
        using var good = _ca.Issue([Shop]);
        TestCertificates.WritePem(good, _cert, _key);
        await Topology.WaitUntilAsync(async () => await ServedThumbprintAsync() == good.Thumbprint, "the good renewal is served");
        Assert.Null((await _edge.StatusAsync())["tls"]!["certificates"]![0]!["lastRefusal"]);
    }

    public async Task DisposeAsync()
    {
        await _edge.StopAsync();
        await _edge.DisposeAsync();
        await _origin.DisposeAsync();
        _first.Dispose();
    }

    public void Dispose()
    {
        _ca.Dispose();
        _log.Dispose();
    }
}

/// <summary>A certificate that cannot be used stops the node at start-up with a message naming the setting.</summary>
public sealed class CertificateConfigurationTests : IDisposable
{
    private readonly TestCertificates _ca = new();

    private static async Task<string> StartFailure(Dictionary<string, string?> settings)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var app = await CertificateNode.StartAsync(settings);
        });
        return error.Message;
    }

    [Fact]
    public async Task Unusable_certificates_name_their_setting()
    {
        using var shop = _ca.Issue(["shop.example.test"]);
        using var other = _ca.Issue(["other.example.test"]);
        using var expired = _ca.Issue(["old.example.test"], TimeSpan.FromDays(1), notBefore: DateTimeOffset.UtcNow.AddDays(-5));
        var (cert, key) = _ca.WritePem(shop, "shop");
        var (_, otherKey) = _ca.WritePem(other, "other");
        var (expiredCert, expiredKey) = _ca.WritePem(expired, "expired");
        var garbage = Path.Combine(_ca.Directory, "garbage.pem");
        File.WriteAllText(garbage, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n");

        var mismatch = await StartFailure(new() { ["EdgeCache:Listen:Certificates:0:Path"] = cert, ["EdgeCache:Listen:Certificates:0:KeyPath"] = otherKey });
        Assert.Contains("EdgeCache:Listen:Certificates:0: the private key", mismatch, StringComparison.Ordinal);
        Assert.Contains("does not match", mismatch, StringComparison.Ordinal);

        var old = await StartFailure(new() { ["EdgeCache:Listen:Certificates:0:Path"] = cert, ["EdgeCache:Listen:Certificates:0:KeyPath"] = key, ["EdgeCache:Listen:Certificates:1:Path"] = expiredCert, ["EdgeCache:Listen:Certificates:1:KeyPath"] = expiredKey });
        Assert.Contains("EdgeCache:Listen:Certificates:1: the certificate CN=old.example.test", old, StringComparison.Ordinal);
        Assert.Contains("expired on", old, StringComparison.Ordinal);

        var bad = await StartFailure(new() { ["EdgeCache:Listen:Certificates:0:Path"] = garbage, ["EdgeCache:Listen:Certificates:0:KeyPath"] = key });
        Assert.Contains("EdgeCache:Listen:Certificates:0: '" + garbage + "' is not a valid PEM certificate chain", bad, StringComparison.Ordinal);

        var missing = await StartFailure(new() { ["EdgeCache:Listen:Certificates:0:Path"] = cert, ["EdgeCache:Listen:Certificates:0:KeyPath"] = key + ".gone" });
        Assert.Contains("EdgeCache:Listen:Certificates:0:KeyPath '" + key + ".gone' does not exist", missing, StringComparison.Ordinal);

        var pfx = _ca.WritePfx(shop, "shop", "right");
        var password = await StartFailure(new() { ["EdgeCache:Listen:Certificates:0:Path"] = pfx, ["EdgeCache:Listen:Certificates:0:Password"] = "Not-The-Passw0rd" });
        Assert.Contains("EdgeCache:Listen:Certificates:0: '" + pfx + "' is neither a PEM file nor a PFX file that opens with the configured Password", password, StringComparison.Ordinal);
        Assert.DoesNotContain("Not-The-Passw0rd", password, StringComparison.Ordinal);

        var twoDefaults = await StartFailure(new()
        {
            ["EdgeCache:Listen:Certificates:0:Path"] = cert,
            ["EdgeCache:Listen:Certificates:0:KeyPath"] = key,
            ["EdgeCache:Listen:Certificates:0:Default"] = "true",
            ["EdgeCache:Listen:CertificatePath"] = pfx,
            ["EdgeCache:Listen:CertificatePassword"] = "right",
        });
        Assert.Contains("at most one certificate may be the default", twoDefaults, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_single_CertificatePath_of_older_configurations_still_works_as_the_default()
    {
        using var shop = _ca.Issue(["shop.example.test"]);
        var pfx = _ca.WritePfx(shop, "legacy", "secret");
        await using var origin = await TestOrigin.StartAsync(TimeProvider.System);
        origin.MapStatic("/page", "legacy", ("Cache-Control", "max-age=60"));
        var settings = new Dictionary<string, string?>
        {
            ["EdgeCache:Listen:CertificatePath"] = pfx,
            ["EdgeCache:Listen:CertificatePassword"] = "secret",
        };
        CertificateNode.Route(settings, ["shop.example.test"], origin.Uri);
        await using var edge = await CertificateNode.StartAsync(settings);
        await using var tls = await TlsClient.ConnectAsync(edge.Traffic(), null);
        Assert.Equal(shop.Thumbprint, tls.Certificate.Thumbprint);
        Assert.Equal((200, "legacy"), ((await tls.GetAsync("shop.example.test", "/page")).Status, (await tls.GetAsync("shop.example.test", "/page")).Body));
        Assert.Equal("EdgeCache:Listen:CertificatePath", (await edge.StatusAsync())["tls"]!["certificates"]![0]!["setting"]!.GetValue<string>());
        await edge.StopAsync();
    }

    public void Dispose() => _ca.Dispose();
}
