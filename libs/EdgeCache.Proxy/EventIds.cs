namespace EdgeCache.Proxy;

/// <summary>The event ids of this project's log messages (1000–1999), one constant per message
/// (<see cref="Log"/>), so operators' alert rules and the README can rely on them.</summary>
internal static class EventIds
{
    public const int UpstreamFailed = 1001;
    public const int Retrying = 1002;
    public const int Stored = 1003;
    public const int NotStored = 1004;
    public const int BackgroundRevalidationFailed = 1005;
    public const int Misdirected = 1006;
    public const int Listening = 1007;
    public const int BodyFailed = 1008;
    public const int DiskUnavailable = 1009;
    public const int DiskReopened = 1010;
    public const int ShieldTimedOut = 1011;
    public const int ShieldMarkedDown = 1012;
    public const int Access = 1100;
    public const int InvalidationResuming = 1200;
    public const int InvalidationGap = 1201;
    public const int InvalidationReset = 1202;
    public const int InvalidationUnavailable = 1203;
    public const int InvalidationMalformed = 1204;
    public const int InvalidationApplied = 1205;
    public const int InvalidationLeaseExpired = 1206;
    public const int InvalidationCaughtUp = 1207;
    public const int DiscoveryChanged = 1208;
    public const int DiscoveryFailed = 1209;
    public const int InvalidationConsumerRestart = 1210;
    public const int ConfigurationReloaded = 1300;
    public const int ConfigurationRefused = 1301;
    public const int ConfigurationNeedsRestart = 1302;
    public const int CertificateInForce = 1400;
    public const int CertificateReloaded = 1401;
    public const int CertificateRefused = 1402;
    public const int HostWithoutCertificate = 1403;
    public const int HandshakeRefused = 1404;
    public const int MisdirectedConnection = 1405;
    public const int CertificateWatchUnavailable = 1406;
    public const int OriginCertificateRejected = 1410;
    public const int OriginTrustedCaUnusable = 1411;
    public const int Encoded = 1500;
    public const int EncodeFailed = 1501;
    public const int Recompressed = 1502;
    public const int RecompressFailed = 1503;
    public const int ImageMade = 1510;
    public const int ImageRefused = 1511;
    public const int ImageWorkerRetired = 1512;
    public const int ImageWorkerSaid = 1513;
    public const int ImageWorkerFailed = 1514;
    public const int ReplicationPushFailed = 1600;
    public const int ReplicationQueueFull = 1601;
    public const int ReplicationSelfUnnamed = 1602;
}
