//! Generates typed code from every fixture profile, as a user's build.rs would.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let profiles = "fixtures/profiles";
    hl7_codegen::Config::new()
        .site("hapi")
        .profile(format!("{profiles}/hapi_ACK_v24_HL7_example_ack.xml"))
        .profile(format!(
            "{profiles}/hapi_ADT_A01_v25_full_with_predicates.xml"
        ))
        .site("hapi_va")
        .profile(format!("{profiles}/hapi_ADT_A01_v231_VA_receiver.xml"))
        .site("gazelle")
        .profile(format!("{profiles}/gazelle_OUL_R22_v251_IHE_LAW.xml"))
        .profile(format!(
            "{profiles}/gazelle_RSP_K23_v25_IHE_PIX_query_response.xml"
        ))
        .site("nist")
        .profile(format!(
            "{profiles}/nist_VXU_V04_v251_immunization_NIST_ext.xml"
        ))
        .site("acme")
        .profiles_in("fixtures/site")
        .crosswalks_in("fixtures/vocab/acme")
        .site("base251")
        .base_structure("2.5.1", "ADT_A01")
        .base_structure("2.5.1", "ORU_R01")
        .base_structure("2.5.1", "ORM_O01")
        .base_structure("2.5.1", "RDE_O11")
        .compile()?;
    Ok(())
}
