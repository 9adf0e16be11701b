// placeholder until the domain lands
export default { title: 'patient', defaultAccount: 'patient', async render(root) { root.textContent = 'not yet'; } };
