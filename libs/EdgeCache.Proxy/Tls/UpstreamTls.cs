using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace EdgeCache.Proxy.Tls;

/// <summary>
/// TLS towards upstreams (origins, on a shield; shields, on an edge): certificates are validated as
/// .NET validates them (a trusted chain, the host's name, in date), plus, per cluster, the CA
/// certificates of a file named in the cluster's metadata (<c>EdgeCache.TrustedCaFile</c>): an
/// origin whose certificate a private CA signed is trusted by its own cluster only. There is no
/// setting here that accepts any certificate (YARP's own <c>DangerousAcceptAnyServerCertificate</c> is
/// left as YARP has it). A rejected certificate is logged with the reason, and the client gets a 502
/// saying so.
/// </summary>
internal sealed class UpstreamTls(ILogger<UpstreamTls> logger) : IProxyConfigFilter
{
    /// <summary>The cluster metadata key naming a PEM (or DER) file of CA certificates to trust besides the system's.</summary>
    public const string TrustedCaFileKey = "EdgeCache.TrustedCaFile";

    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");

    /// <summary>The CA certificates in a PEM (one or more) or DER file.</summary>
    public static X509Certificate2Collection LoadCaFile(string path)
    {
        var data = File.ReadAllBytes(path);
        var cas = new X509Certificate2Collection();
        if (data.AsSpan().IndexOf("-----BEGIN "u8) >= 0) cas.ImportFromPem(System.Text.Encoding.UTF8.GetString(data));
        else cas.Add(X509CertificateLoader.LoadCertificate(data));
        if (cas.Count == 0) throw new CryptographicException("the file holds no certificate");
        return cas;
    }

    /// <summary>Refuses a configuration whose trusted CA file cannot be read, naming the setting (at start-up
    /// the node does not start; on a reload YARP keeps the clusters in force and logs it).</summary>
    public ValueTask<ClusterConfig> ConfigureClusterAsync(ClusterConfig cluster, CancellationToken cancel)
    {
        if (cluster.Metadata?.TryGetValue(TrustedCaFileKey, out var path) == true)
        {
            try
            {
                LoadCaFile(path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
            {
                throw new InvalidOperationException($"ReverseProxy:Clusters:{cluster.ClusterId}:Metadata:{TrustedCaFileKey} '{path}' is not a readable PEM or DER file of CA certificates ({ex.Message}).", ex);
            }
        }

        return new(cluster);
    }

    public ValueTask<RouteConfig> ConfigureRouteAsync(RouteConfig route, ClusterConfig? cluster, CancellationToken cancel) => new(route);

    /// <summary>The certificate check of one cluster's client: the system's verdict, or, for a chain the system
    /// does not trust, a chain built to the cluster's own CAs; anything refused is logged with why.</summary>
    public RemoteCertificateValidationCallback Validator(string cluster, IReadOnlyDictionary<string, string>? metadata)
    {
        X509Certificate2Collection? trusted = null;
        if (metadata?.TryGetValue(TrustedCaFileKey, out var path) == true)
        {
            try
            {
                trusted = LoadCaFile(path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
            {
                // Start-up and YARP's reload refuse such a file (ConfigureClusterAsync); it broke since.
                Log.OriginTrustedCaUnusable(logger, cluster, $"{TrustedCaFileKey} '{path}' could not be read ({ex.Message})");
            }
        }

        return (sender, certificate, chain, errors) => Validate(cluster, trusted, sender, certificate, chain, errors);
    }

    private bool Validate(string cluster, X509Certificate2Collection? trusted, object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None) return true;
        var host = (sender as SslStream)?.TargetHostName ?? "(unknown host)";
        string reason;
        if (errors == SslPolicyErrors.RemoteCertificateChainErrors && trusted is not null && certificate is not null)
        {
            using var own = new X509Chain();
            own.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            own.ChainPolicy.CustomTrustStore.AddRange(trusted);
            own.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            own.ChainPolicy.ApplicationPolicy.Add(ServerAuthentication);
            if (chain is not null)
            {
                foreach (var element in chain.ChainElements) own.ChainPolicy.ExtraStore.Add(element.Certificate);
            }

            var leaf = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
            if (own.Build(leaf)) return true;
            reason = "not signed by the system's trusted roots nor by the cluster's " + TrustedCaFileKey + ": " + Describe(own);
        }
        else
        {
            reason = Describe(errors, chain);
        }

        Log.OriginCertificateRejected(logger, host, cluster, reason);
        return false;
    }

    private static string Describe(SslPolicyErrors errors, X509Chain? chain)
    {
        var parts = new List<string>();
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable)) parts.Add("no certificate was sent");
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch)) parts.Add("it does not name the host");
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors)) parts.Add(chain is null ? "its chain is not trusted" : Describe(chain));
        return string.Join("; ", parts);
    }

    private static string Describe(X509Chain chain)
    {
        var statuses = chain.ChainStatus.Select(s => s.Status.ToString()).Distinct().ToList();
        return statuses.Count == 0 ? "its chain is not trusted" : "chain status " + string.Join(", ", statuses);
    }

    /// <summary>True when the forwarder's failure on <paramref name="ctx"/> was the TLS handshake with the
    /// upstream (its certificate refused, as a rule).</summary>
    public static bool Rejected(HttpContext ctx)
    {
        for (var ex = ctx.Features.Get<IForwarderErrorFeature>()?.Exception; ex is not null; ex = ex.InnerException)
        {
            if (ex is AuthenticationException) return true;
        }

        return false;
    }
}
