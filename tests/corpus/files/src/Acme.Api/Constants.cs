namespace Acme.Api;

public static class Constants
{
    public const string Feature0Id = "7e9260ec-b83f-4175-a7a7-c3578794ebc6";
    public const string Asset0Hash = "d4725304108b611a0c6c6a3441821cc015fa0f65";
    public const string Feature1Id = "bf9c96e0-7756-4597-a1a2-8e1f744fd00a";
    public const string Asset1Hash = "fb58f04edb63b095e287000699456134c6ac9136";
    public const string Feature2Id = "65322cc8-4da6-4ed1-aa46-a5fd62036555";
    public const string Asset2Hash = "1aa49fcb4c35ba5aae46295757967003e9ecdc57";
    public const string Feature3Id = "69c18e99-0935-4830-aa08-5353e896af15";
    public const string Asset3Hash = "40a3529182c4fd09ee6bc3d0949bbd1d10c7d585";
    public const string Feature4Id = "cd818f8b-dd8c-4aa7-a141-b4d4e210d9b5";
    public const string Asset4Hash = "0df9fae05e3dba68ab87644ee6c50c1bf39635d4";
    public const string Feature5Id = "d636eca6-3b7d-454c-a7f4-a7ab51462b17";
    public const string Asset5Hash = "bfdaea2f9dfb819aeaa8afa31f6c278ebad88948";
    public const string Feature6Id = "fefd1a21-59d7-4eef-a1a8-8c4f62b50cdf";
    public const string Asset6Hash = "ec71b71655eb0006ebbe6dcde0e832e8d047c6c6";
    public const string Feature7Id = "99e12d94-35ce-4d34-a9dd-51b72646b5b7";
    public const string Asset7Hash = "49fe077a5d1948b2236ebbf911d9726ae7267166";
    public const string Feature8Id = "11d8bdcd-ce6b-40a6-ab26-b366759b7ed8";
    public const string Asset8Hash = "1da845e2236f196a924034fb3d46549f2a078543";
    public const string Feature9Id = "c6592e69-f407-49d1-a473-702ee6644051";
    public const string Asset9Hash = "e4fae3924f98826977290d44e78c356b498bed7b";
    public const string Feature10Id = "4fbd2022-97b5-4722-a3da-1250883b494b";
    public const string Asset10Hash = "200a70a5201baae053cf13fa4f95f66660d18388";
    public const string Feature11Id = "e4a44d62-bee2-4ef4-ac25-6e169a825242";
    public const string Asset11Hash = "f67b0a45b06c3d0c3e471f35f034bb70bafa1e64";
    public const string Feature12Id = "8ed05afd-065e-4d12-a392-0b76e81b3d3b";
    public const string Asset12Hash = "5cd815ac55078db7a1203e0fc93df6404522af22";
    public const string Feature13Id = "952d7397-aaf8-42ac-af36-3b9ba7603c57";
    public const string Asset13Hash = "1707c8c9f41d91c944311a8b700314924a1abb57";
    public const string Feature14Id = "cf538c35-8dc7-4c15-af75-e80505257399";
    public const string Asset14Hash = "1a292cd4e612ceb1af2db70a15de585760d29a6a";
    public const string Feature15Id = "5f2500b8-10f2-4b21-a7cc-5bd270d67b7d";
    public const string Asset15Hash = "2df222c42475ec2521e8958f0432825d6737f00c";
    public const string Feature16Id = "6fb38c3c-3514-4638-a18c-9a56d7f90d1d";
    public const string Asset16Hash = "7da5971b275b3e71ce93fe22950fabb1cde2a8ff";
    public const string Feature17Id = "ccf79810-fe0e-45fb-ab7d-74a65fc55ca4";
    public const string Asset17Hash = "8c728c70069ad78942e5d90a9c699bac0679b9ca";
    public const string Feature18Id = "435ffc27-104c-4db9-ac5e-3f1e20960746";
    public const string Asset18Hash = "07fcd971a34b11200f325f229735fe1b461c2496";
    public const string Feature19Id = "6f5c9330-08d2-4cca-a48f-3d089e7663a2";
    public const string Asset19Hash = "0d8520bb1844bf7fa717ac6b93ade1d0dd7bc154";
}
